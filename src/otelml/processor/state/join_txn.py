"""One transaction of the ground-truth join: what a batch of records changes.

:class:`~otelml.processor.state.joins.Joins` owns the connection, the writer thread and the
committed in-memory state; a :class:`JoinTransaction` does the work of one group commit on
copies (predictions in, actuals in, the size and age bounds, the rows to persist), and the
engine adopts those copies only after COMMIT, so a failed commit leaves nothing half-applied.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar

from otelml import semconv
from otelml.processor.state.pending import ACTUALS, JOINED, PREDICTIONS, Actual, Prediction
from otelml.processor.state.perfstate import Cell
from otelml.processor.state.rows import Row, contribution, predicted_positive, task_of

if TYPE_CHECKING:
    from otelml.processor.state.joins import Joins

TOTAL = -1
"""``window_start`` of a series' all-time cell (the exported counters)."""
UNKNOWN_MODEL = "__unknown__"
"""``model`` label of actuals rejected because their model is unknown (bounded cardinality)."""
OUTCOMES: tuple[str, ...] = ("joined", "pending", "duplicate", "rejected", "expired")
"""Values of the ``outcome`` label of ``otelml_actuals_total``."""

CellKey = tuple[str, str, str, str, int]
SeriesKey4 = tuple[str, str, str, str]


_R = TypeVar("_R", Prediction, Actual)


def _by_model(records: list[_R]) -> list[tuple[str, list[_R], list[str]]]:
    """Return ``(model, records, distinct ids)`` per model, in order of first appearance."""
    groups: dict[str, list[_R]] = {}
    for r in records:
        groups.setdefault(r.model, []).append(r)
    return [(m, g, list(dict.fromkeys(r.id for r in g))) for m, g in groups.items()]


class JoinTransaction:
    """One transaction of the join: its SQL, and its in-memory changes kept until COMMIT."""

    def __init__(self, engine: Joins) -> None:
        self.engine = engine
        self.cells: dict[CellKey, Cell] = {}
        self.counters: dict[tuple[str, str], int] = {}
        self.pending: dict[str, int] = {}
        self.pending_actuals: dict[str, int] = {}
        self.rejected: dict[tuple[str, str], int] = {}
        self.models: set[str] = set()
        self.malformed: list[str] = []
        self.overflow: dict[str, int] = {}

    def cell(self, key: CellKey) -> Cell:
        c = self.cells.get(key)
        if c is None:
            live = self.engine._cells.get(key)
            c = self.cells[key] = live.copy() if live is not None else Cell()
        return c

    def count(self, model: str, name: str, n: int = 1) -> None:
        k = (model, name)
        self.counters[k] = self.counters.get(k, self.engine._counters.get(k, 0)) + n

    def pend(self, which: dict[str, int], live: dict[str, int], model: str, n: int) -> None:
        which[model] = which.get(model, live.get(model, 0)) + n

    def reject(self, event: str, reason: str, n: int = 1) -> None:
        self.rejected[(event, reason)] = self.rejected.get((event, reason), 0) + n

    def _window(self, p: Prediction) -> int:
        t = p.time_ns // 1_000_000_000
        return int(t - t % self.engine.resolution_s)

    def _cells_of(self, p: Prediction) -> list[Cell]:
        ws = self._window(p)
        segs = ("", p.segment) if p.segment else ("",)
        keys = [(p.model, p.version, p.environment, s, w) for s in segs for w in (ws, TOTAL)]
        return [self.cell(k) for k in keys]

    def _called_positive(self, p: Prediction) -> bool:
        pos = self.engine.config.performance.positive_label_of(p.model)
        return predicted_positive(p, positive=pos, threshold=self.engine.threshold)

    def _row(self, p: Prediction, a: Actual) -> Row | None:
        pos = self.engine.config.performance.positive_label_of(p.model)
        return contribution(p, a, positive=pos, threshold=self.engine.threshold)

    def _add_join(self, p: Prediction, a: Actual, row: Row, sign: int) -> None:
        # The all-time cells back Prometheus counters, which must never go down: a duplicate
        # actual adds its contribution there but does not take the replaced one back (the
        # windows, hence gauges and the API, apply "the last one wins" exactly).
        ws = self._window(p)
        segs = ("", p.segment) if p.segment else ("",)
        for s in segs:
            self.cell((p.model, p.version, p.environment, s, ws)).add_row(row, sign)
            if sign > 0:
                self.cell((p.model, p.version, p.environment, s, TOTAL)).add_row(row, sign)
        if sign > 0:
            delay = (a.time_ns - p.time_ns) / 1e9
            self.cell((p.model, p.version, p.environment, "", TOTAL)).add_delay(delay)

    def _admit(self, model: str) -> bool:
        """Return whether ``model``'s predictions may enter the join (``joins.max_models``).

        A model already in the join is; a new one while there is room; beyond the cap only a
        model the processor knows otherwise (metrics, spans, a baseline), so that junk names
        sent as prediction records never crowd out a real model.
        """
        live = self.engine._models
        if model in live or model in self.models:
            return True
        if len(live) + len(self.models - live) < self.engine.max_models:
            return True
        return self.engine.known_model is not None and self.engine.known_model(model)

    def predictions(self, preds: list[Prediction]) -> None:
        assert self.engine._tables is not None
        t = self.engine._tables
        for model, group, ids in _by_model(preds):
            if not self._admit(model):
                self.reject(semconv.PREDICTION_EVENT, "too_many_models", len(group))
                self.overflow["join_models"] = self.overflow.get("join_models", 0) + len(group)
                continue
            seen = set(t.lookup(PREDICTIONS, model, ids)) | set(t.lookup(JOINED, model, ids))
            orphans = t.lookup(ACTUALS, model, ids)
            new_pending = []
            joined_rows = []
            for p in group:
                if p.id in seen:  # a retried request, or the same id twice: the first counts
                    self.count(model, "predictions_duplicate")
                    continue
                seen.add(p.id)
                self.models.add(model)
                self.count(model, "predictions")
                score = p.value if task_of(p) == "binary" else None
                called = None if score is None else self._called_positive(p)
                for c in self._cells_of(p):
                    c.add_prediction(score, called_positive=called)
                orphan = orphans.pop(p.id, None)
                if orphan is not None:
                    a = Actual.load(model, p.id, orphan[1])
                    row = self._row(p, a)
                    self.pend(self.pending_actuals, self.engine._pending_actuals, model, -1)
                    t.delete(ACTUALS, [(model, p.id)])
                    if row is None:
                        self.reject(semconv.ACTUAL_EVENT, "incompatible_actual")
                        self.count(model, "rejected")
                    else:
                        self._add_join(p, a, row, 1)
                        self.count(model, "joined")
                        joined_rows.append((model, p.id, p.time_ns, p.data(), a.data()))
                        continue
                new_pending.append((model, p.id, p.time_ns, p.data()))
            self._conn_exec_many(f"INSERT INTO {PREDICTIONS} VALUES (?, ?, ?, ?)", new_pending)
            self._conn_exec_many(f"INSERT INTO {JOINED} VALUES (?, ?, ?, ?, ?)", joined_rows)
            self.pend(self.pending, self.engine._pending, model, len(new_pending))

    def _conn_exec_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            assert self.engine._conn is not None
            self.engine._conn.executemany(sql, rows)

    def actuals(self, acts: list[Actual]) -> None:
        assert self.engine._tables is not None
        t = self.engine._tables
        for model, group, ids in _by_model(acts):
            if not self.engine._is_known(model, self):
                self.reject(semconv.ACTUAL_EVENT, "unknown_model", len(group))
                self.count(UNKNOWN_MODEL, "rejected", len(group))
                continue
            joined = t.lookup(JOINED, model, ids)
            pending = t.lookup(PREDICTIONS, model, ids)
            orphans = t.lookup(ACTUALS, model, ids)
            moved: list[tuple[str, str]] = []
            new_joined: dict[str, tuple[Any, ...]] = {}
            updates: list[tuple[str, str, str]] = []
            new_orphans: dict[str, tuple[str, str, int, str]] = {}
            for a in group:
                a_data = a.data()
                if a.id in joined:
                    time_ns, data, old = joined[a.id]
                    p = Prediction.load(model, a.id, time_ns, data)
                    row = self._row(p, a)
                    if row is None:
                        self.reject(semconv.ACTUAL_EVENT, "incompatible_actual")
                        self.count(model, "rejected")
                        continue
                    old_a = Actual.load(model, a.id, old)
                    old_row = self._row(p, old_a)
                    if old_row is not None:
                        self._add_join(p, old_a, old_row, -1)
                    self._add_join(p, a, row, 1)
                    self.count(model, "duplicate")
                    joined[a.id] = (time_ns, data, a_data)
                    if a.id in new_joined:
                        new_joined[a.id] = (model, a.id, time_ns, data, a_data)
                    else:
                        updates.append((a_data, model, a.id))
                elif a.id in pending:
                    time_ns, data = pending[a.id]
                    p = Prediction.load(model, a.id, time_ns, data)
                    row = self._row(p, a)
                    if row is None:
                        self.reject(semconv.ACTUAL_EVENT, "incompatible_actual")
                        self.count(model, "rejected")
                        continue
                    self._add_join(p, a, row, 1)
                    self.count(model, "joined")
                    del pending[a.id]
                    moved.append((model, a.id))
                    joined[a.id] = (time_ns, data, a_data)
                    new_joined[a.id] = (model, a.id, time_ns, data, a_data)
                elif a.id in orphans:
                    self.count(model, "duplicate")
                    orphans[a.id] = (a.time_ns, a_data)
                    new_orphans[a.id] = (model, a.id, a.time_ns, a_data)
                else:
                    self.count(model, "pending")
                    self.pend(self.pending_actuals, self.engine._pending_actuals, model, 1)
                    orphans[a.id] = (a.time_ns, a_data)
                    new_orphans[a.id] = (model, a.id, a.time_ns, a_data)
            t.delete(PREDICTIONS, moved)
            self.pend(self.pending, self.engine._pending, model, -len(moved))
            self._conn_exec_many(
                f"INSERT INTO {JOINED} VALUES (?, ?, ?, ?, ?)", list(new_joined.values())
            )
            self._conn_exec_many(f"UPDATE {JOINED} SET actual=? WHERE model=? AND id=?", updates)
            self._conn_exec_many(
                f"INSERT OR REPLACE INTO {ACTUALS} VALUES (?, ?, ?, ?)", list(new_orphans.values())
            )

    def _drop(self, table: str, rows: list[tuple[str, str, int, str]]) -> None:
        assert self.engine._tables is not None
        if not rows:
            return
        self.engine._tables.delete(table, [(m, i) for m, i, _, _ in rows])
        per_model: dict[str, int] = {}
        for m, *_ in rows:
            per_model[m] = per_model.get(m, 0) + 1
        for m, n in per_model.items():
            if table == PREDICTIONS:
                self.count(m, "predictions_expired", n)
                self.pend(self.pending, self.engine._pending, m, -n)
            elif table == ACTUALS:
                self.count(m, "expired", n)
                self.pend(self.pending_actuals, self.engine._pending_actuals, m, -n)

    def _total(self, which: dict[str, int], live: dict[str, int]) -> int:
        return sum({**live, **which}.values())

    def bound(self) -> None:
        """Expire the oldest rows beyond the size bounds."""
        assert self.engine._tables is not None
        t = self.engine._tables
        over = self._total(self.pending, self.engine._pending) - self.engine.max_pending
        if over > 0:
            self._drop(PREDICTIONS, t.oldest(PREDICTIONS, over))
        over = (
            self._total(self.pending_actuals, self.engine._pending_actuals)
            - self.engine.max_pending_actuals
        )
        if over > 0:
            self._drop(ACTUALS, t.oldest(ACTUALS, over))

    def expire(self) -> None:
        """Expire rows older than the horizon, drop joined rows past it and old cells."""
        assert self.engine._tables is not None
        assert self.engine._conn is not None
        t = self.engine._tables
        now = self.engine.clock()
        cutoff = int(now * 1e9) - self.engine.horizon_ns
        self._drop(PREDICTIONS, t.older_than(PREDICTIONS, cutoff))
        self._drop(ACTUALS, t.older_than(ACTUALS, cutoff))
        self.engine._conn.execute(f"DELETE FROM {JOINED} WHERE time_ns < ?", (cutoff,))
        n = self.engine._conn.execute(f"SELECT COUNT(*) FROM {JOINED}").fetchone()[0]
        if n > self.engine.max_joined:
            self.engine._conn.execute(
                f"DELETE FROM {JOINED} WHERE (model, id) IN (SELECT model, id FROM {JOINED} "
                "ORDER BY time_ns LIMIT ?)",
                (n - self.engine.max_joined,),
            )
        oldest = int(now - self.engine.retention_s)
        with self.engine._lock:
            stale = [k for k in self.engine._cells if k[4] != TOTAL and k[4] < oldest]
        for k in stale:
            c = self.cell(k)
            c.__init__()  # type: ignore[misc]  # emptied: removed at commit
        self.engine._conn.execute(
            "DELETE FROM otelml_performance WHERE window_start >= 0 AND window_start < ?",
            (oldest,),
        )

    def persist(self) -> None:
        assert self.engine._conn is not None
        rows = []
        gone = []
        for key, c in self.cells.items():
            if c.is_empty:
                gone.append(key)
            else:
                rows.append((*key, json.dumps(c.to_dict(), separators=(",", ":"))))
        self._conn_exec_many(
            "INSERT OR REPLACE INTO otelml_performance VALUES (?, ?, ?, ?, ?, ?)", rows
        )
        self._conn_exec_many(
            "DELETE FROM otelml_performance WHERE model=? AND version=? AND environment=? "
            "AND segment=? AND window_start=?",
            gone,
        )
        self._conn_exec_many(
            "INSERT OR REPLACE INTO otelml_join_counters VALUES (?, ?, ?)",
            [(m, n, v) for (m, n), v in self.counters.items()],
        )
