"""One memory budget for every request body in flight, shared by the receivers and the API.

Each request is capped on its own (``max_request_body_mib``, ``max_recv_msg_size_mib``), but
ten small gzip bodies that each expand to the cap used to take 1.6 GB at once. Every receiver
(and the API) therefore takes the bytes it holds, as sent and as decompressed, from one
:class:`InflightBudget` before it holds them; a request that finds no room is answered the OTLP
way (HTTP 503 + Retry-After, gRPC RESOURCE_EXHAUSTED + RetryInfo) and changes nothing.
:mod:`otelml.processor.receive.gunzip` decompresses a chunk at a time from the same budget.
"""

from __future__ import annotations

import threading


class Overloaded(Exception):
    """No room in the in-flight budget now: the client should retry later."""


class InflightBudget:
    """Bytes of request bodies held at once by every receiver and the API together.

    Parameters
    ----------
    limit
        The most bytes held at once; 0 turns the budget off.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()
        self.refused = 0
        """Requests refused for want of room (the processor's telemetry reads it)."""

    @property
    def used(self) -> int:
        """Return the bytes held now."""
        return self._used

    def hold(self) -> Hold:
        """Return an empty hold for one request; release it when the request ends."""
        return Hold(self)

    def _take(self, n: int) -> None:
        with self._lock:
            if self.limit and self._used + n > self.limit:
                self.refused += 1
                raise Overloaded(
                    f"{self._used + n - self.limit} bytes over the in-flight budget of "
                    f"{self.limit} bytes"
                )
            self._used += n

    def _give(self, n: int) -> None:
        with self._lock:
            self._used -= n


class Hold:
    """What one request holds of the budget; :meth:`release` gives it all back (idempotent)."""

    __slots__ = ("_budget", "held")

    def __init__(self, budget: InflightBudget) -> None:
        self._budget = budget
        self.held = 0

    def take(self, n: int) -> None:
        """Hold ``n`` more bytes, or raise :class:`Overloaded`."""
        self._budget._take(n)
        self.held += n

    def release(self) -> None:
        """Give back everything held."""
        if self.held:
            self._budget._give(self.held)
            self.held = 0

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
