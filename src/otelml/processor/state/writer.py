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
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from os import PathLike
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Batch = list[tuple[T, "concurrent.futures.Future[None]"]]

log = logging.getLogger(__name__)

_STOP = object()


def settle(fut: concurrent.futures.Future[None], error: BaseException | None = None) -> None:
    """Resolve ``fut`` unless its waiter already gave up (cancelled): never raises.

    A client whose deadline passes cancels the future it waits on; the write goes on (and
    stays durable), and only the answer is dropped. Resolving a cancelled future would raise
    ``InvalidStateError`` on the writer thread and kill it.
    """
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)


class StorageError(Exception):
    """The write failed; nothing of the request was applied."""


class WriterDied(StorageError):
    """The writer thread ended on an error: nothing more will be written."""


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
        resolve every future (result after the commit, exception if the commit failed), with
        :func:`settle`, since a future may have been cancelled by a client that gave up.
    tick
        Called on the writer thread after each batch and whenever ``poll_s`` passes idle
        (periodic work: compaction, expiry).
    queue_size, max_batch, poll_s
        Queue bound (beyond it :meth:`submit` refuses), group size, idle wake-up period.
    on_failure
        Called (on the writer thread) with the error if the thread ends on one: the owner
        turns readiness off and has the process exit, so that a supervisor restarts it.
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
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.name = name
        self.max_batch = max_batch
        self.poll_s = poll_s
        self._write = write
        self._tick = tick
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.on_failure = on_failure
        self.error: BaseException | None = None
        """What ended the thread, if an error did."""

    @property
    def alive(self) -> bool:
        """Return whether the thread runs and can still write (readiness asks this)."""
        return self._thread is not None and self._thread.is_alive() and self.error is None

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
        if self.error is not None:
            raise WriterDied(f"{self.name} died: {self.error!r}")
        fut: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._queue.put_nowait((item, fut))
        return fut

    def put(self, item: T, timeout: float | None = None) -> concurrent.futures.Future[None]:
        """Return a future for ``item``, waiting for room (up to ``timeout``) if need be.

        Raises :class:`queue.Full` when no room came in time, :class:`WriterDied` when the
        thread is gone.
        """
        if self.error is not None:
            raise WriterDied(f"{self.name} died: {self.error!r}")
        fut: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._queue.put((item, fut), timeout=timeout)
        return fut

    def is_full(self) -> bool:
        """Return whether a submit now would be refused."""
        return self._queue.full()

    def depth(self) -> int:
        """Return how many items wait for the writer."""
        return self._queue.qsize()

    def stop(self, timeout: float, error: Callable[[], BaseException]) -> bool:
        """Let the writer finish what was queued before this call, then fail what raced in.

        Items still queued after the thread ended get ``error()`` as their exception. Bounded
        by ``timeout`` whatever the thread does: a full queue or a dead or stuck thread never
        makes a SIGTERM hang. Returns whether the thread has ended (its owner may then use the
        connection from the calling thread).
        """
        ended = True
        if self._thread is not None:
            deadline = time.monotonic() + timeout
            self._stopping.set()
            if self._thread.is_alive():
                with contextlib.suppress(queue.Full):
                    self._queue.put(_STOP, timeout=max(0.0, deadline - time.monotonic()))
                self._thread.join(max(0.0, deadline - time.monotonic()))
            ended = not self._thread.is_alive()
            self._thread = None
        self._fail_queued(error)
        return ended

    def _fail_queued(self, error: Callable[[], BaseException]) -> None:
        while True:  # requests that raced with the stop marker, or outlived the thread
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                settle(item[1], error())

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            self.error = exc
            log.critical("%s died; nothing more is written", self.name, exc_info=exc)
            reason = f"{self.name} died: {exc!r}"
            self._fail_queued(lambda: WriterDied(reason))
            if self.on_failure is not None:
                with contextlib.suppress(Exception):
                    self.on_failure(exc)

    def _loop(self) -> None:
        stop = False
        while not stop:
            try:
                item = self._queue.get(timeout=self.poll_s)
            except queue.Empty:
                if self._stopping.is_set():  # a stop whose marker found no room
                    return
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
                try:
                    self._write(batch)
                except BaseException as exc:
                    self.error = exc  # not alive from now on, before any waiter hears of it
                    for _, fut in batch:
                        settle(fut, WriterDied(f"{self.name} failed: {exc!r}"))
                    raise
            self._tick()
