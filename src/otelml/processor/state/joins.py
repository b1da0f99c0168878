"""The ground-truth join: actuals meet predictions by (model, id), in either order, durably.

``ml.prediction`` and ``ml.actual`` log records reach :meth:`Joins.submit` (the pipeline's event
hook) after ingestion. One writer thread takes every waiting request (group commit) and, in a
single SQLite transaction on its own connection to the processor's database file:

- a prediction whose actual waits (an orphan) joins at once; otherwise it waits in
  ``otelml_pending_predictions``; either way it counts in its window's prediction count and
  score histogram (for CBPE and coverage);
- an actual joins its pending prediction; one for an already joined prediction replaces the
  earlier actual (the last one wins: the old contribution is subtracted, the new one added);
  one without a prediction waits in ``otelml_pending_actuals``; one for a model the processor has
  never seen, or without a usable value, is rejected with a reason and changes nothing else;
- the result of a join counts in the window in which the prediction was made
  (``performance.resolution_s``), never in the window the label came in;
- what waited longer than ``joins.horizon_s``, or is the oldest beyond ``joins.max_pending`` /
  ``joins.max_pending_actuals``, expires and is counted;
- the touched performance cells and counters are written in the same transaction.

The futures resolve only after the commit, and the pipeline acknowledges the request only then,
so an acknowledged record is never lost: after ``kill -9`` the tables hold every acknowledged
prediction and actual, and the in-memory cells are rebuilt from ``otelml_performance``. A
client retry of a request that was committed but not acknowledged finds its predictions
already there (ignored) and its actuals joined (counted as duplicates of the same value).

In-memory state changes only after the commit (the batch works on copies), so a failed commit
leaves nothing half-applied.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from otelml import semconv
from otelml.processor.state.join_txn import OUTCOMES as OUTCOMES  # the API's outcome labels
from otelml.processor.state.join_txn import (
    TOTAL,
    UNKNOWN_MODEL,
    CellKey,
    JoinTransaction,
    SeriesKey4,
)
from otelml.processor.state.observations import LogEvent
from otelml.processor.state.pending import (
    ACTUALS,
    CELL_KEY,
    PREDICTIONS,
    Actual,
    JoinTables,
    Malformed,
    Prediction,
    parse_actual,
    parse_prediction,
)
from otelml.processor.state.perfstate import Cell
from otelml.processor.state.quarantine import load_rows, non_negative
from otelml.processor.state.store import Backpressure, StorageError
from otelml.processor.state.writer import (
    Batch,
    GroupCommitWriter,
    WriterDied,
    immediate_transaction,
    open_wal,
    settle,
)

log = logging.getLogger(__name__)


class JoinBackpressure(Backpressure):
    """The join's queue is full; the client should retry later."""


class Joins:
    """Joins actuals to predictions durably and keeps per-window performance state.

    Parameters
    ----------
    path
        The processor's SQLite file (the join opens its own connection to it).
    config
        The :class:`~otelml.processor.config.ProcessorConfig` (``joins``, ``performance``,
        ``limits``, ``storage.synchronous``).
    known_model
        Returns whether the processor knows a model apart from the join's own predictions
        (metrics, spans or a baseline); actuals of unknown models are rejected.
    clock
        Time source (unix seconds), for expiry and retention.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        config: Any,
        *,
        known_model: Callable[[str], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.config = config
        j, p = config.joins, config.performance
        self.horizon_ns = int(j.horizon_s * 1e9)
        self.max_pending = j.max_pending
        self.max_pending_actuals = j.max_pending_actuals
        self.max_joined = j.max_joined
        self.max_models = j.max_models
        self.expire_interval_s = j.expire_interval_s
        self.resolution_s = p.resolution_s
        self.retention_s = p.retention_s
        self.threshold = p.threshold
        self.limit = config.limits.max_attribute_length
        self.max_segments = config.limits.max_segments_per_model
        self.synchronous = config.storage.synchronous
        self.known_model = known_model
        self.clock = clock
        self._writer: GroupCommitWriter[list[LogEvent] | None] = GroupCommitWriter(
            "otelml-joins",
            self._write_batch,
            self._maybe_expire,
            queue_size=j.queue_size,
            max_batch=config.storage.max_batch,
        )
        self._lock = threading.Lock()
        self._cells: dict[CellKey, Cell] = {}
        self._counters: dict[tuple[str, str], int] = {}
        self._pending: dict[str, int] = {}
        self._pending_actuals: dict[str, int] = {}
        self._rejected: dict[tuple[str, str], int] = {}
        self._overflow: dict[str, int] = {}
        self._quarantined = {"otelml_performance": 0}
        self._models: set[str] = set()
        self._segments: dict[str, set[str]] = {}
        self._conn: sqlite3.Connection | None = None
        self._tables: JoinTables | None = None
        self._closed = False
        self._last_expire = 0.0
        self.generation = 0
        """Changes whenever committed state changes (exporters cache on it)."""

    # -- lifecycle -----------------------------------------------------------------------------

    def open(self) -> None:
        """Open the tables, load the state, and start the writer; idempotent."""
        if self._writer.running:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = open_wal(self.path, self.synchronous)
        # Joins look ids up at random in tables of millions of rows: SQLite's default 2 MB page
        # cache would make most lookups disk reads.
        conn.execute("PRAGMA cache_size=-65536")
        self._conn = conn
        self._tables = t = JoinTables(conn)
        n = load_rows(conn, "otelml_performance", CELL_KEY, "data", self._load_cell)
        self._quarantined = {"otelml_performance": n}
        self._counters = t.counters()
        self._pending = t.counts(PREDICTIONS)
        self._pending_actuals = t.counts(ACTUALS)
        self._models = {m for (m, name) in self._counters if name == "predictions"}
        self._models.update(self._pending)
        self._writer.start()

    def _load_cell(self, key: tuple[Any, ...], data: str) -> None:
        """Load one stored performance cell (raises, changing nothing, if it is unreadable)."""
        cell = Cell.from_dict(json.loads(data))
        non_negative("cell", [cell.predictions, cell.labeled, *cell.confusion.values()])
        m, v, e, s, ws = key
        self._cells[(m, v, e, s, int(ws))] = cell
        if s:
            self._segments.setdefault(m, set()).add(s)

    def quarantined(self) -> dict[str, int]:
        """Return the stored cells set aside at start-up because they could not be loaded."""
        return dict(self._quarantined)

    def close(self, timeout: float = 30.0) -> None:
        """Finish the queued requests and close the connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        ended = self._writer.stop(timeout, lambda: JoinBackpressure("the join is shutting down"))
        if self._conn is not None:
            if ended:  # a stuck writer still holds the connection: leave it to the exit
                self._conn.close()
            self._conn = None

    # -- submission ----------------------------------------------------------------------------

    def submit(self, events: Sequence[LogEvent]) -> concurrent.futures.Future[None]:
        """Queue a request's events; the future resolves once their join is committed.

        Raises :class:`JoinBackpressure` when the queue is full or the join is closing.
        """
        if self._closed or not self._writer.running:
            raise JoinBackpressure("the join is not running")
        try:
            return self._writer.submit(list(events))
        except queue.Full:
            raise JoinBackpressure("join queue full") from None
        except WriterDied as exc:
            raise StorageError(str(exc)) from None

    @property
    def alive(self) -> bool:
        """Return whether the join's writer can still commit (readiness)."""
        return self._writer.alive

    def on_failure(self, callback: Callable[[BaseException], None]) -> None:
        """Call ``callback`` (on the writer thread) if the join's writer dies."""
        self._writer.on_failure = callback

    __call__ = submit  # the pipeline's event hook

    def apply(self, events: Sequence[LogEvent], timeout: float = 60.0) -> None:
        """Submit events and wait for their commit (tests, tools)."""
        self.submit(events).result(timeout)

    def expire(self) -> None:
        """Run expiry and retention now (waits for the writer)."""
        self._writer.put(None, timeout=60).result(60)

    # -- reading -------------------------------------------------------------------------------

    def window(self, start: float, end: float, model: str | None = None) -> dict[SeriesKey4, Cell]:
        """Return merged cells per (model, version, environment, segment) over windows in
        ``[start, end)`` (by prediction time)."""
        out: dict[SeriesKey4, Cell] = {}
        with self._lock:
            for (m, v, e, s, ws), c in self._cells.items():
                if ws == TOTAL or not start <= ws < end or (model is not None and m != model):
                    continue
                acc = out.get((m, v, e, s))
                if acc is None:
                    out[(m, v, e, s)] = c.copy()
                else:
                    acc.merge_in(c)
        return out

    def history(
        self, model: str, version: str, environment: str, segment: str = ""
    ) -> list[tuple[int, Cell]]:
        """Return one series' cells by window start, oldest first."""
        with self._lock:
            rows = [
                (ws, c.copy())
                for (m, v, e, s, ws), c in self._cells.items()
                if (m, v, e, s) == (model, version, environment, segment) and ws != TOTAL
            ]
        return sorted(rows, key=lambda r: r[0])

    def totals(self) -> dict[SeriesKey4, Cell]:
        """Return every series' all-time cell (cumulative over prediction time)."""
        with self._lock:
            return {k[:4]: c.copy() for k, c in self._cells.items() if k[4] == TOTAL}

    def counters(self) -> dict[tuple[str, str], int]:
        """Return (model, name) -> count; names are :data:`OUTCOMES` and ``predictions*``."""
        with self._lock:
            return dict(self._counters)

    def pending(self) -> dict[str, int]:
        """Return the predictions waiting for an actual, per model."""
        with self._lock:
            return {m: n for m, n in self._pending.items() if n}

    def pending_actuals(self) -> dict[str, int]:
        """Return the actuals waiting for their prediction, per model."""
        with self._lock:
            return {m: n for m, n in self._pending_actuals.items() if n}

    def rejected(self) -> dict[tuple[str, str], int]:
        """Return records refused by the join: (event, reason) -> count."""
        with self._lock:
            return dict(self._rejected)

    def overflow(self) -> dict[str, int]:
        """Return what the join's caps dropped: limit -> records (``join_models``)."""
        with self._lock:
            return dict(self._overflow)

    def models(self) -> set[str]:
        """Return the models with predictions seen by the join."""
        with self._lock:
            return set(self._models)

    # -- the writer ----------------------------------------------------------------------------

    def _write_batch(self, batch: Batch[list[LogEvent] | None]) -> None:
        self._write(batch, expire=any(events is None for events, _ in batch))

    def _maybe_expire(self) -> None:
        if time.monotonic() - self._last_expire >= self.expire_interval_s:
            self._write([], expire=True)

    def _write(
        self,
        batch: Batch[list[LogEvent] | None],
        *,
        expire: bool = False,
    ) -> None:
        assert self._conn is not None
        b = JoinTransaction(self)
        try:
            with immediate_transaction(self._conn):
                preds: list[Prediction] = []
                acts: list[Actual] = []
                for events, _ in batch:
                    if events:
                        self._parse(events, preds, acts, b)
                if preds:
                    b.predictions(preds)
                if acts:
                    b.actuals(acts)
                for model in b.malformed:  # known or not only once this batch's predictions count
                    b.count(model if self._is_known(model, b) else UNKNOWN_MODEL, "rejected")
                b.bound()
                if expire:
                    self._last_expire = time.monotonic()
                    b.expire()
                b.persist()
        except Exception as exc:
            log.exception("the ground-truth join failed to store %d requests", len(batch))
            for _, fut in batch:
                settle(fut, StorageError(str(exc)))
            return
        self._commit(b)
        for _, fut in batch:
            settle(fut)

    def _commit(self, b: JoinTransaction) -> None:
        with self._lock:
            for key, c in b.cells.items():
                if c.is_empty:
                    self._cells.pop(key, None)
                else:
                    self._cells[key] = c
            self._counters.update(b.counters)
            self._pending.update(b.pending)
            self._pending_actuals.update(b.pending_actuals)
            for k, n in b.rejected.items():
                self._rejected[k] = self._rejected.get(k, 0) + n
            for k2, n in b.overflow.items():
                self._overflow[k2] = self._overflow.get(k2, 0) + n
            self._models.update(b.models)
            if len(self._segments) > len(self._models):  # segments of models refused by the cap
                self._segments = {m: v for m, v in self._segments.items() if m in self._models}
            if b.cells or b.counters or b.pending or b.rejected:
                self.generation += 1

    # -- one transaction -------------------------------------------------------------------------

    def _segment(self, model: str, segment: str) -> str:
        segs = self._segments.setdefault(model, set())
        if segment in segs:
            return segment
        if len(segs) >= self.max_segments:
            return semconv.OVERFLOW_VALUE
        segs.add(segment)
        return segment

    def _parse(
        self,
        events: Iterable[LogEvent],
        preds: list[Prediction],
        acts: list[Actual],
        b: JoinTransaction,
    ) -> None:
        for e in events:
            try:
                if e.name == semconv.PREDICTION_EVENT:
                    preds.append(
                        parse_prediction(e.attributes, e.time_ns, self.limit, self._segment)
                    )
                elif e.name == semconv.ACTUAL_EVENT:
                    acts.append(parse_actual(e.attributes, e.time_ns, self.limit))
            except Malformed as exc:  # noqa: PERF203 - one bad record never fails the rest
                b.reject(e.name, exc.reason)
                if e.name == semconv.ACTUAL_EVENT:
                    model = e.attributes.get(semconv.MODEL_NAME)
                    b.malformed.append(model if isinstance(model, str) else UNKNOWN_MODEL)

    def _is_known(self, model: str, b: JoinTransaction) -> bool:
        if model in self._models or model in b.models:
            return True
        return self.known_model is not None and self.known_model(model)
