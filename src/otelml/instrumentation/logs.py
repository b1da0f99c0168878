"""Per-prediction and per-actual log records, emitted off the predict path by a bounded queue.

The predict path only appends one item per call (a batch is one item); a daemon thread turns
items into OpenTelemetry log records. The queue is bounded in rows. When it is full the call's
records are dropped, counted in ``otelml.instrumentation.dropped`` (kind ``log_queue``) and
logged once, so a slow or absent Collector never slows predict nor grows memory; with
``block_s`` (batch jobs, label scripts) ``put`` first waits up to that long for room.

The worker never overflows the SDK's own queue: the SDK's ``BatchLogRecordProcessor`` drops the
oldest record silently when its deque is full, so the worker waits for room there instead and
the burst stays in this queue, where a drop is counted (see :func:`sdk_room`).
"""

from __future__ import annotations

import atexit
import collections
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from otelml.instrumentation.config import env_float, env_int
from otelml.instrumentation.guard import GUARD

Builder = Callable[[], Sequence[tuple[dict[str, Any], int | None]]]
"""Returns (attributes, timestamp_ns) per record; called on the worker thread."""

DEFAULT_ROWS = 100_000
_ROOM_POLL_S = 0.002
DROP_HINT = (
    "otelml's log queue of {rows:,} rows was full. Raise it with "
    "otelml.configure(log_queue_rows=...) or OTELML_LOG_QUEUE_ROWS, or let batch jobs and label "
    "scripts wait for room with otelml.configure(log_queue_block_s=...) / "
    "record_actuals(block_s=...); check that the Collector is reachable."
)


def sdk_room(logger: Any) -> int | None:
    """Return how many records the SDK batch processors behind ``logger`` can still take.

    None when unknown (not the SDK's logger, or processors without a queue, e.g. the simple
    processor of tests). Private SDK attributes, pinned by tests against the installed SDK.
    """
    multi = getattr(logger, "_multi_log_record_processor", None)
    room: int | None = None
    for proc in getattr(multi, "_log_record_processors", ()):
        batch = getattr(proc, "_batch_processor", None)
        queue = getattr(batch, "_queue", None)
        size = getattr(batch, "_max_queue_size", None)
        if queue is None or not isinstance(size, int):
            continue
        free = size - len(queue)
        room = free if room is None else min(room, free)
    return room


class LogQueue:
    """Bounded queue of pending log items and the daemon thread that emits them."""

    def __init__(self, max_rows: int | None = None, block_s: float | None = None) -> None:
        self.max_rows = max_rows or env_int("OTELML_LOG_QUEUE_ROWS", DEFAULT_ROWS)
        self.block_s = block_s if block_s is not None else env_float("OTELML_LOG_QUEUE_BLOCK_S", 0)
        self._cond = threading.Condition()
        self._items: collections.deque[tuple[Any, str, Any, int, Builder]] = collections.deque()
        self._pending = 0
        self._busy = False
        self._thread: threading.Thread | None = None
        self.handed_over = 0
        self.dropped = 0
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._cond = threading.Condition()
        self._items.clear()
        self._pending = 0
        self._busy = False
        self._thread = None

    @property
    def pending(self) -> int:
        """Rows queued and not yet handed to the loggers."""
        return self._pending

    def resize(self, max_rows: int | None = None, block_s: float | None = None) -> None:
        """Change the bound (rows) and the blocking deadline of :meth:`put` (seconds, 0: none)."""
        with self._cond:
            if max_rows is not None:
                if max_rows < 1:
                    raise ValueError(f"log_queue_rows must be >= 1, got {max_rows}")
                self.max_rows = max_rows
            if block_s is not None:
                if block_s < 0:
                    raise ValueError(f"log_queue_block_s must be >= 0, got {block_s}")
                self.block_s = block_s
            self._cond.notify_all()

    def put(
        self,
        logger: Any,
        event: str,
        context: Any,
        rows: int,
        build: Builder,
        *,
        block_s: float | None = None,
    ) -> bool:
        """Queue ``rows`` records of ``event`` built later by ``build``; False if dropped.

        Waits up to ``block_s`` (default: the queue's ``block_s``, 0 on the predict path) for
        room; an item larger than the whole queue is taken once the queue is empty.
        """
        wait = self.block_s if block_s is None else block_s
        with self._cond:
            if self._pending and self._pending + rows > self.max_rows and wait > 0:
                deadline = time.monotonic() + wait
                self._start()
                while self._pending and self._pending + rows > self.max_rows:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
            if self._pending + rows > self.max_rows and (self._pending or wait <= 0):
                self.dropped += rows
                GUARD.dropped("log_queue", rows, hint=DROP_HINT.format(rows=self.max_rows))
                return False
            self._items.append((logger, event, context, rows, build))
            self._pending += rows
            self._start()
            self._cond.notify_all()
        return True

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="otelml-logs", daemon=True)
            self._thread.start()
            _register_exit_drain()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items:
                    self._busy = False
                    self._cond.notify_all()
                    self._cond.wait()
                self._busy = True
                logger, event, context, rows, build = self._items.popleft()
            emitted = 0
            try:
                room = sdk_room(logger)
                for attributes, timestamp in build():
                    if room is not None:
                        while room <= 0:  # wait for the SDK's exporter, never overflow its deque
                            time.sleep(_ROOM_POLL_S)
                            room = sdk_room(logger) or 0
                        room -= 1
                    logger.emit(
                        event_name=event,
                        attributes=attributes,
                        timestamp=timestamp,
                        context=context,
                    )
                    emitted += 1
            except Exception as exc:
                GUARD.error("log_emit", exc)
            finally:
                with self._cond:
                    self._pending -= rows
                    self.handed_over += emitted
                    self._cond.notify_all()

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


_exit_registered = False


def _register_exit_drain() -> None:
    global _exit_registered
    if not _exit_registered:
        _exit_registered = True
        atexit.register(_drain_at_exit)


def _drain_at_exit() -> None:
    exit_drain()


def _drain_queue_at_exit() -> None:
    LOGS.flush(5.0)  # delivery.EXIT_DRAIN_S, the same deadline


exit_drain: Callable[[], None] = _drain_queue_at_exit
"""What runs at interpreter exit once records were queued: this queue alone by default;
:mod:`otelml.instrumentation.delivery` (imported by ``configure`` and ``flush``) puts the full
drain, SDK processors included, here, so that this module never imports it."""


LOGS = LogQueue()
"""The process-wide log queue."""
