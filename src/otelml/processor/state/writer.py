"""One writer thread behind a bounded queue, committing what waits as one group.

:class:`~otelml.processor.state.store.Store` and :class:`~otelml.processor.state.joins.Joins` both
own a SQLite connection that only their writer thread writes to. Callers submit an item and get a
future; the thread takes up to ``max_batch`` waiting items and hands them to ``write`` together,
which commits them in one transaction and resolves the futures only after the commit, so a
future that succeeded means durable data. The owner keeps what the data means and when to
acknowledge; this module keeps the queue, the thread and the shutdown.
"""

from __future__ import annotations

import concurrent.futures
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from os import PathLike
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Batch = list[tuple[T, "concurrent.futures.Future[None]"]]

_STOP = object()


def open_wal(path: str | PathLike[str], synchronous: str) -> sqlite3.Connection:
    """Return an autocommit connection to ``path`` in WAL mode.

    ``synchronous`` is ``full`` (fsync every commit: an acknowledged write survives power loss)
    or anything else for ``NORMAL`` (survives a crash of the process).
    """
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if synchronous.upper() == 'FULL' else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in ``BEGIN IMMEDIATE`` … ``COMMIT``; roll back if anything raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class GroupCommitWriter(Generic[T]):
    """A bounded queue drained by one thread that writes waiting items as a group.

    Parameters
    ----------
    name
        The thread's name.
    write
        Called on the writer thread with up to ``max_batch`` ``(item, future)`` pairs; it must
        resolve every future (result after the commit, exception if the commit failed).
    tick
        Called on the writer thread after each batch and whenever ``poll_s`` passes idle
        (periodic work: compaction, expiry).
    queue_size, max_batch, poll_s
        Queue bound (beyond it :meth:`submit` refuses), group size, idle wake-up period.
    """

    def __init__(
        self,
        name: str,
        write: Callable[[Batch[T]], None],
        tick: Callable[[], None],
        *,
        queue_size: int,
        max_batch: int,
        poll_s: float = 1.0,
    ) -> None:
        self.name = name
        self.max_batch = max_batch
        self.poll_s = poll_s
        self._write = write
        self._tick = tick
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Return whether the writer thread has been started and not stopped."""
        return self._thread is not None

    def start(self) -> None:
        """Start the writer thread; idempotent."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def submit(self, item: T) -> concurrent.futures.Future[None]:
        """Return a future for ``item``, queued without waiting.

        Raises :class:`queue.Full` when the queue is full (the owner's backpressure).
        """
        fut: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._queue.put_nowait((item, fut))
        return fut

    def put(self, item: T) -> concurrent.futures.Future[None]:
        """Return a future for ``item``, waiting for room in the queue if need be."""
        fut: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._queue.put((item, fut))
        return fut

    def is_full(self) -> bool:
        """Return whether a submit now would be refused."""
        return self._queue.full()

    def depth(self) -> int:
        """Return how many items wait for the writer."""
        return self._queue.qsize()

    def stop(self, timeout: float, error: Callable[[], BaseException]) -> None:
        """Let the writer finish what was queued before this call, then fail what raced in.

        Items still queued after the thread ended get ``error()`` as their exception.
        """
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None
        while True:  # requests that raced with the stop marker
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                item[1].set_exception(error())

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                item = self._queue.get(timeout=self.poll_s)
            except queue.Empty:
                self._tick()
                continue
            batch = []
            while True:
                if item is _STOP:
                    stop = True
                else:
                    batch.append(item)
                if len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            self._tick()
