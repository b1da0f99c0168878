"""Durable state in SQLite (WAL): a write-ahead log of requests, folded into window rows.

One writer thread owns the connection's writes. Receivers hand it an
:class:`~otelml.processor.receive.ingest.IngestResult` through a bounded queue and wait for the
returned future; the writer takes up to ``max_batch`` waiting requests, appends each as one row of
``otelml_log`` in a single transaction (group commit), and only after the commit converts
cumulative points to deltas, applies the updates to the :class:`Aggregator` and resolves the
futures, so a request is acknowledged only once it is durable. With ``synchronous=FULL`` (the
default) the commit is fsynced, so an acknowledged request also survives power loss; with
``normal`` it survives a crash of the process but the last commits may be lost on power loss.

Every ``compact_interval_s`` the writer folds the log into ``otelml_windows`` (one row per
series and window, the merged :class:`FeatureWindow`) and ``otelml_streams`` (the last point of
each cumulative stream) and empties the log, in one transaction. At start the state is rebuilt
from those tables and the log is replayed in order through the same conversion, so the
aggregates after ``kill -9`` equal those of a run without the crash.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import queue
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from otelml.processor.state.aggregator import Aggregator, FeatureWindow, SeriesKey, Update
from otelml.processor.state.observations import IngestResult, Observation
from otelml.processor.state.quarantine import load_rows, non_negative
from otelml.processor.state.temporality import TemporalityTracker, value_from_json, value_to_json
from otelml.processor.state.updates import UpdateBuilder, convert
from otelml.processor.state.writer import (
    GroupCommitWriter,
    WriterDied,
    immediate_transaction,
    open_wal,
    settle,
)
from otelml.processor.state.writer import StorageError as StorageError  # owners raise it
from otelml.processor.telemetry import ProcessorTelemetry

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS otelml_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS otelml_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, received_at REAL NOT NULL, kind TEXT NOT NULL,
    data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS otelml_windows (
    model TEXT NOT NULL, version TEXT NOT NULL, environment TEXT NOT NULL, feature TEXT NOT NULL,
    segment TEXT NOT NULL, window_start INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (model, version, environment, feature, segment, window_start)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS otelml_windows_start ON otelml_windows (window_start);
CREATE TABLE IF NOT EXISTS otelml_streams (
    id TEXT PRIMARY KEY, time_ns INTEGER NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
"""
_SCHEMA_VERSION = "1"
_WINDOW_KEY = ("model", "version", "environment", "feature", "segment", "window_start")


class Backpressure(Exception):
    """The write queue is full; the client should retry later."""


def _encode(result: IngestResult) -> tuple[float, str, bytes | str]:
    """Return a log row ``(received_at, kind, data)`` for a request.

    A metrics request is logged as the protobuf it came as (kind ``m``) and replayed through
    ``ingest_metrics`` with the same receive time, which gives the same observations: cheaper
    than serializing every observation. Span-derived updates, and metrics requests that are
    mostly not otelml's (a Collector fanning everything out), are logged as JSON (kind ``j``).
    """
    if result.request is not None and 2 * result.ours >= result.items:
        return result.now, "m", result.request.SerializeToString()
    obs = [
        [*o.key, o.window_start, o.kind, o.label, value_to_json(o.value), *o[5:]]
        for o in result.observations
    ]
    ups = [[*u.key, u.window_start, u.delta.to_dict()] for u in result.updates]
    return result.now, "j", json.dumps({"o": obs, "u": ups}, separators=(",", ":"))


def _decode(data: str) -> tuple[list[Observation], list[Update]]:
    d = json.loads(data)
    obs = [
        Observation(SeriesKey(*o[:5]), o[5], o[6], o[7], value_from_json(o[8]), o[9], o[10], o[11])
        for o in d["o"]
    ]
    ups = [Update(SeriesKey(*u[:5]), u[5], FeatureWindow.from_dict(u[6])) for u in d["u"]]
    return obs, ups


class Store:
    """SQLite persistence with a single group-committing writer thread.

    Parameters
    ----------
    path
        The SQLite file (created with its directory).
    aggregator
        The in-memory state that committed updates are applied to.
    telemetry
        Counters for overflow (streams) and the providers of queue depth and db size.
    replay
        How a logged metrics request becomes observations again at start-up (the receivers'
        ingest, given by the service): the store keeps the wire out of its own room.
    max_categories
        The category cap of a window, as ingestion applies it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        aggregator: Aggregator,
        *,
        telemetry: ProcessorTelemetry | None = None,
        queue_size: int = 256,
        max_batch: int = 64,
        synchronous: str = "full",
        compact_interval_s: float = 10.0,
        replay: Callable[[bytes, float], IngestResult] | None = None,
        max_categories: int = 100,
        max_streams: int = 200_000,
        stream_ttl_s: int = 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.aggregator = aggregator
        self.telemetry = telemetry
        self.max_batch = max_batch
        self.synchronous = synchronous.upper()
        self.compact_interval_s = compact_interval_s
        self._replay = replay
        self.max_categories = max_categories
        self.clock = clock
        self._max_streams = max_streams
        self._stream_ttl_s = stream_ttl_s
        self._writer: GroupCommitWriter[IngestResult] = GroupCommitWriter(
            "otelml-store-writer",
            self._write,
            self._maybe_compact,
            queue_size=queue_size,
            max_batch=max_batch,
            poll_s=min(1.0, compact_interval_s),
        )
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._quarantined = dict.fromkeys(("otelml_windows", "otelml_streams"), 0)
        self._last_compact = 0.0
        self.tracker: TemporalityTracker | None = None
        if telemetry is not None:
            telemetry.queue_depth_provider = self.queue_depth
            telemetry.db_size_provider = self.db_size

    # -- lifecycle -----------------------------------------------------------------------------

    def open(self) -> None:
        """Open (or create) the database, rebuild the state, and start the writer thread."""
        if self._writer.running:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = open_wal(self.path, self.synchronous)
        conn.executescript(_SCHEMA)
        self._conn = conn
        created_ns = self._meta("created_ns", str(time.time_ns()))
        self._meta("schema_version", _SCHEMA_VERSION)
        self.tracker = TemporalityTracker(int(created_ns), self._max_streams, self._stream_ttl_s)
        self._rebuild()
        self._last_compact = time.monotonic()
        self._writer.start()

    def _meta(self, key: str, default: str) -> str:
        assert self._conn is not None
        row = self._conn.execute("SELECT value FROM otelml_meta WHERE key=?", (key,)).fetchone()
        if row is not None:
            return str(row[0])
        self._conn.execute("INSERT INTO otelml_meta(key, value) VALUES (?, ?)", (key, default))
        return default

    def _rebuild(self) -> None:
        assert self._conn is not None
        assert self.tracker is not None
        tracker = self.tracker

        def window(key: tuple[Any, ...], data: str) -> None:
            *series, ws = key
            w = FeatureWindow.from_dict(json.loads(data))
            non_negative("window", [w.rows, w.missing, *w.invalid.values()])
            self.aggregator.load(SeriesKey(*series), int(ws), w)

        def stream(key: tuple[Any, ...], value: str) -> None:
            tracker.restore(key[0], int(key[1]), value_from_json(json.loads(value)))

        # A row that cannot be read is set aside (otelml_quarantine), never a reason not to start.
        for table, cols, data_col, load in (
            ("otelml_windows", _WINDOW_KEY, "data", window),
            ("otelml_streams", ("id", "time_ns"), "value", stream),
        ):
            n = load_rows(self._conn, table, cols, data_col, load)
            self._quarantined[table] += n
        replayed = 0
        for received_at, kind, data in self._conn.execute(
            "SELECT received_at, kind, data FROM otelml_log ORDER BY id"
        ):
            if kind == "m":
                if self._replay is None:
                    raise StorageError("the log holds a metrics request and no replay was given")
                res = self._replay(data, received_at)
                obs, ups = res.observations, res.updates
            else:
                obs, ups = _decode(data)
            self._apply(obs, ups)
            replayed += 1
        if replayed:
            # The replayed cells (and only they) are dirty now: fold them into window rows.
            self._compact()
        log.info("state rebuilt: %d log entries replayed", replayed)

    def close(self, timeout: float = 30.0, *, compact: bool = True) -> None:
        """Flush the queue, compact, and close the database; idempotent.

        ``compact=False`` leaves the log as it is, as a crash would (tests).
        """
        if self._closed:
            return
        self._closed = True
        ended = self._writer.stop(timeout, lambda: Backpressure("the store is shutting down"))
        if self._conn is not None:
            if compact and ended and self._writer.error is None:
                try:
                    self._compact()
                except sqlite3.Error:  # the log keeps everything: the next start replays it
                    log.exception("compaction at shutdown failed")
            if ended:
                self._conn.close()
            self._conn = None

    # -- submission ----------------------------------------------------------------------------

    def submit(self, result: IngestResult) -> concurrent.futures.Future[None]:
        """Queue a request's data; the future resolves once it is durable and applied.

        Raises :class:`Backpressure` when the queue is full.
        """
        if self._closed:
            raise Backpressure("the store is shutting down")
        try:
            return self._writer.submit(result)
        except queue.Full:
            raise Backpressure("write queue full") from None
        except WriterDied as exc:
            raise StorageError(str(exc)) from None

    def quarantined(self) -> dict[str, int]:
        """Return the stored rows set aside at start-up because they could not be loaded."""
        return dict(self._quarantined)

    @property
    def alive(self) -> bool:
        """Return whether the writer can still make data durable (readiness)."""
        return self._writer.alive

    def on_failure(self, callback: Callable[[BaseException], None]) -> None:
        """Call ``callback`` (on the writer thread) if the writer dies."""
        self._writer.on_failure = callback

    def is_full(self) -> bool:
        """Return whether a submit now would be refused."""
        return self._closed or self._writer.is_full()

    def queue_depth(self) -> int:
        """Return how many requests wait for the writer."""
        return self._writer.depth()

    def db_size(self) -> int:
        """Return the database's size on disk in bytes (main file + WAL)."""
        paths = [self.path, Path(str(self.path) + "-wal")]
        return sum(p.stat().st_size for p in paths if p.exists())

    # -- the writer thread ---------------------------------------------------------------------

    def _write(self, batch: list[tuple[IngestResult, concurrent.futures.Future[None]]]) -> None:
        assert self._conn is not None
        try:
            rows = [_encode(r) for r, _ in batch]
            with immediate_transaction(self._conn):
                self._conn.executemany(
                    "INSERT INTO otelml_log(received_at, kind, data) VALUES (?, ?, ?)", rows
                )
        except Exception as exc:
            log.exception("storing %d requests failed", len(batch))
            for _, fut in batch:
                settle(fut, StorageError(str(exc)))
            return
        for result, fut in batch:
            try:
                self._apply(result.observations, result.updates)
            except Exception:  # stored: a restart replays it the same way
                log.exception("applying a stored request failed")
            settle(fut)

    def _apply(self, observations: list[Observation], updates: list[Update]) -> None:
        assert self.tracker is not None
        all_updates: list[Update] = []
        if observations:
            builder = UpdateBuilder(self.max_categories)
            overflow = convert(self.tracker, observations, builder)
            if overflow and self.telemetry is not None:
                self.telemetry.overflow("streams", overflow)
            all_updates = builder.finish()
        all_updates.extend(updates)
        if all_updates:
            self.aggregator.apply(all_updates)

    def _maybe_compact(self) -> None:
        if time.monotonic() - self._last_compact >= self.compact_interval_s:
            self._compact()

    def compact(self) -> None:
        """Fold the log into window rows now (tests; the writer does it on its own)."""
        if self._writer.running:
            raise RuntimeError("compact() from outside the writer while it runs")
        self._compact()

    def _compact(self) -> None:
        assert self._conn is not None
        assert self.tracker is not None
        self._last_compact = time.monotonic()
        now = self.clock()
        self.aggregator.prune(now)
        self.tracker.expire(int(now * 1e9))
        cutoff = self.aggregator.retention_cutoff(now)
        dirty = self.aggregator.take_dirty()
        changed, expired = self.tracker.take_changes()
        window_rows = [
            (*k, ws, json.dumps(w.to_dict(), separators=(",", ":"))) for (k, ws), w in dirty.items()
        ]
        stream_rows = [
            (sid, t, json.dumps(value_to_json(v), separators=(",", ":")))
            for sid, (t, v) in changed.items()
        ]
        try:
            with immediate_transaction(self._conn):
                self._conn.executemany(
                    "INSERT OR REPLACE INTO otelml_windows VALUES (?, ?, ?, ?, ?, ?, ?)",
                    window_rows,
                )
                self._conn.executemany(
                    "INSERT OR REPLACE INTO otelml_streams VALUES (?, ?, ?)", stream_rows
                )
                self._conn.executemany(
                    "DELETE FROM otelml_streams WHERE id=?", [(s,) for s in expired]
                )
                self._conn.execute("DELETE FROM otelml_windows WHERE window_start < ?", (cutoff,))
                self._conn.execute("DELETE FROM otelml_log")
        except Exception:
            log.exception("compaction failed; the log is kept and retried later")
            self.aggregator.mark_dirty(dirty.keys())
            self.tracker.dirty.update(changed)
            self.tracker.expired.update(expired)
            return
        # Keep the WAL file from growing without bound between checkpoints.
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
