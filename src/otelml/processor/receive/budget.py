"""One memory budget for every request body in flight, and gunzip that spends from it.

Each request is capped on its own (``max_request_body_mib``, ``max_recv_msg_size_mib``), but
ten small gzip bodies that each expand to the cap used to take 1.6 GB at once. Every receiver
(and the API) therefore takes the bytes it holds, as sent and as decompressed, from one
:class:`InflightBudget` before it holds them; a request that finds no room is answered the OTLP
way (HTTP 503 + Retry-After, gRPC RESOURCE_EXHAUSTED + RetryInfo) and changes nothing.
Decompression runs a chunk at a time, so a bomb is stopped at the budget, the size cap or the
ratio cap, whichever comes first, before it is whole in memory.
"""

from __future__ import annotations

import threading
import zlib

_CHUNK = 1 << 20
_RATIO_FLOOR = 1 << 20
"""Bodies that decompress to less than this are never refused for their ratio."""


class Overloaded(Exception):
    """No room in the in-flight budget now: the client should retry later."""


class BombError(ValueError):
    """A gzip body that expands past the size or ratio cap (answered 413 / RESOURCE_EXHAUSTED)."""


class BadGzip(ValueError):
    """A gzip body that does not decode (answered 400 / INVALID_ARGUMENT)."""


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


def gunzip(body: bytes, limit: int, *, max_ratio: float = 0.0, hold: Hold | None = None) -> bytes:
    """Return the gzip-decoded ``body``, a chunk at a time.

    Raises :class:`BombError` past ``limit`` output bytes or, beyond 1 MiB of output, past
    ``max_ratio`` times the compressed size (0: no ratio cap); :class:`Overloaded` when ``hold``
    cannot take the next chunk; :class:`BadGzip` for a broken or truncated stream.
    """
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    parts: list[bytes] = []
    produced = 0
    data = body
    ratio_cap = max_ratio * len(body) if max_ratio > 0 else float("inf")
    while True:
        try:
            chunk = d.decompress(data, _CHUNK)
        except zlib.error as exc:
            raise BadGzip(f"invalid gzip body: {exc}") from exc
        produced += len(chunk)
        if produced > limit:
            raise BombError(f"decompressed body exceeds {limit} bytes")
        if produced > _RATIO_FLOOR and produced > ratio_cap:
            raise BombError(
                f"gzip body expands more than {max_ratio:g} times its size (a compression bomb?)"
            )
        if hold is not None and chunk:
            hold.take(len(chunk))
        parts.append(chunk)
        data = d.unconsumed_tail
        if d.eof or (not data and not chunk):
            break
    if not d.eof:
        raise BadGzip("invalid gzip body: truncated")
    return b"".join(parts)
