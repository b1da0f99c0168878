"""Per-prediction and per-actual log records, emitted off the predict path by a bounded queue.

The predict path only appends one item per call (a batch is one item); a daemon thread turns
items into OpenTelemetry log records. The queue is bounded in rows: when it is full, the call's
records are dropped and counted in ``otelml.instrumentation.dropped`` (kind ``log_queue``), so a
slow or absent Collector never slows predict nor grows memory.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from otelml.instrumentation.config import env_int
from otelml.instrumentation.guard import GUARD

Builder = Callable[[], Sequence[tuple[dict[str, Any], int | None]]]
"""Returns (attributes, timestamp_ns) per record; called on the worker thread."""


class LogQueue:
    """Bounded queue of pending log items and the daemon thread that emits them."""

    def __init__(self, max_rows: int | None = None) -> None:
        self.max_rows = max_rows or env_int("OTELML_LOG_QUEUE_ROWS", 100_000)
        self._cond = threading.Condition()
        self._items: collections.deque[tuple[Any, str, Any, int, Builder]] = collections.deque()
        self._pending = 0
        self._busy = False
        self._thread: threading.Thread | None = None
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._cond = threading.Condition()
        self._items.clear()
        self._pending = 0
        self._busy = False
        self._thread = None

    def put(self, logger: Any, event: str, context: Any, rows: int, build: Builder) -> bool:
        """Queue ``rows`` records of ``event`` built later by ``build``; False if dropped."""
        with self._cond:
            if self._pending + rows > self.max_rows:
                GUARD.dropped("log_queue", rows)
                return False
            self._items.append((logger, event, context, rows, build))
            self._pending += rows
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="otelml-logs", daemon=True)
                self._thread.start()
            self._cond.notify()
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items:
                    self._busy = False
                    self._cond.notify_all()
                    self._cond.wait()
                self._busy = True
                logger, event, context, rows, build = self._items.popleft()
            try:
                for attributes, timestamp in build():
                    logger.emit(
                        event_name=event,
                        attributes=attributes,
                        timestamp=timestamp,
                        context=context,
                    )
            except Exception as exc:
                GUARD.error("log_emit", exc)
            finally:
                with self._cond:
                    self._pending -= rows

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued record has been handed to the loggers; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._items or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True


LOGS = LogQueue()
"""The process-wide log queue."""
