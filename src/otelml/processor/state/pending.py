"""Predictions and actuals waiting for each other, and joined rows, in SQLite.

Three tables of the processor's database file, on a connection of their own (WAL lets it write
beside the store's writer):

- ``otelml_pending_predictions``: predictions without an actual yet, by (model, id);
- ``otelml_pending_actuals``: actuals that came before their prediction (orphans);
- ``otelml_joined``: predictions with their actual, kept so that a later duplicate actual can
  replace the first one's contribution;

plus ``otelml_performance`` (one row per performance cell, see :mod:`perfstate`) and
``otelml_join_counters``, written in the same transaction as the rows they summarise so that the
tables and the counts never disagree after a crash. Rows are compact JSON arrays; every table is
keyed (model, id) WITHOUT ROWID with an index on time for expiry, oldest first.

This module also parses ``ml.prediction`` / ``ml.actual`` log attributes into
:class:`Prediction` / :class:`Actual` records, refusing malformed ones with a reason. Labels,
classes and segment values typed as numbers or booleans are spelled by
:func:`otelml._categories.canonical` (``1`` and ``1.0`` are ``"1"``), as the client spells them.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from otelml import semconv
from otelml._categories import canonical

SCHEMA = """
CREATE TABLE IF NOT EXISTS otelml_pending_predictions (
    model TEXT NOT NULL, id TEXT NOT NULL, time_ns INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (model, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS otelml_pending_predictions_time
    ON otelml_pending_predictions (time_ns);
CREATE TABLE IF NOT EXISTS otelml_pending_actuals (
    model TEXT NOT NULL, id TEXT NOT NULL, time_ns INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (model, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS otelml_pending_actuals_time ON otelml_pending_actuals (time_ns);
CREATE TABLE IF NOT EXISTS otelml_joined (
    model TEXT NOT NULL, id TEXT NOT NULL, time_ns INTEGER NOT NULL, data TEXT NOT NULL,
    actual TEXT NOT NULL, PRIMARY KEY (model, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS otelml_joined_time ON otelml_joined (time_ns);
CREATE TABLE IF NOT EXISTS otelml_performance (
    model TEXT NOT NULL, version TEXT NOT NULL, environment TEXT NOT NULL,
    segment TEXT NOT NULL, window_start INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (model, version, environment, segment, window_start)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS otelml_join_counters (
    model TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (model, name)) WITHOUT ROWID;
"""

PREDICTIONS, ACTUALS, JOINED = (
    "otelml_pending_predictions",
    "otelml_pending_actuals",
    "otelml_joined",
)
CELL_KEY = ("model", "version", "environment", "segment", "window_start")
"""Key columns of ``otelml_performance``."""
_IN_CHUNK = 500  # ids per "IN (...)" lookup: well under SQLite's 32766 parameters


def _dumps(x: Any) -> str:
    return json.dumps(x, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True, slots=True)
class Prediction:
    """One ``ml.prediction`` record."""

    model: str
    id: str
    version: str
    environment: str
    segment: str
    time_ns: int
    task: str
    value: float | None = None
    label: str | None = None
    scores: tuple[float, ...] | None = None
    classes: tuple[str, ...] | None = None

    def data(self) -> str:
        """Return the stored form (everything but model, id and time)."""
        return _dumps(
            [
                self.version,
                self.environment,
                self.segment,
                self.task,
                self.value,
                self.label,
                None if self.scores is None else list(self.scores),
                None if self.classes is None else list(self.classes),
            ]
        )

    @classmethod
    def load(cls, model: str, id_: str, time_ns: int, data: str) -> Prediction:
        """Rebuild a prediction from its stored form."""
        v, env, seg, task, value, label, scores, classes = json.loads(data)
        return cls(
            model,
            id_,
            v,
            env,
            seg,
            int(time_ns),
            task,
            value,
            label,
            None if scores is None else tuple(scores),
            None if classes is None else tuple(classes),
        )


@dataclass(frozen=True, slots=True)
class Actual:
    """One ``ml.actual`` record."""

    model: str
    id: str
    time_ns: int
    label: str | None = None
    value: float | None = None
    version: str | None = None

    def data(self) -> str:
        """Return the stored form."""
        return _dumps([self.label, self.value, self.version, self.time_ns])

    @classmethod
    def load(cls, model: str, id_: str, data: str) -> Actual:
        """Rebuild an actual from its stored form."""
        label, value, version, time_ns = json.loads(data)
        return cls(model, id_, int(time_ns), label, value, version)


class Malformed(ValueError):
    """A log record that cannot take part in the join; ``reason`` names why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _string(attrs: Mapping[str, Any], key: str, limit: int, *, required: bool) -> str | None:
    v = attrs.get(key)
    if v is None or v == "":
        if required:
            raise Malformed("malformed_record", f"{key}: missing")
        return None
    if isinstance(v, (bool, list, float)):
        raise Malformed("malformed_record", f"{key}: expected a string")
    s = str(v)
    if len(s) > limit:
        raise Malformed("too_long", f"{key}: longer than {limit} characters")
    return s


def _label(attrs: Mapping[str, Any], key: str, limit: int) -> str | None:
    """Return a label attribute as its category: numbers and booleans spelled canonically."""
    v = attrs.get(key)
    if isinstance(v, (int, float)):  # bool included
        if not math.isfinite(v):
            raise Malformed("malformed_value", f"{key}: must be finite")
        attrs = {key: canonical(v)}
    return _string(attrs, key, limit, required=False)


def _number(attrs: Mapping[str, Any], key: str) -> float | None:
    v = attrs.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise Malformed("malformed_value", f"{key}: expected a number, got {v!r:.40}")
    f = float(v)
    if not math.isfinite(f):
        raise Malformed("malformed_value", f"{key}: must be finite")
    return f


def parse_prediction(
    attrs: Mapping[str, Any], time_ns: int, limit: int, segment_of: Any = None
) -> Prediction:
    """Return the prediction in a record's attributes (:class:`Malformed` if unusable).

    ``segment_of(model, key)`` maps a segment key to the one counted (caps); identity when None.
    """
    model = _string(attrs, semconv.MODEL_NAME, limit, required=True)
    pid = _string(attrs, semconv.PREDICTION_ID, limit, required=True)
    assert model is not None
    assert pid is not None
    version = _string(attrs, semconv.MODEL_VERSION, limit, required=False) or ""
    env = _string(attrs, semconv.ENVIRONMENT, limit, required=False)
    task = _string(attrs, semconv.MODEL_TASK, limit, required=False) or "other"
    value = attrs.get(semconv.PREDICTION_VALUE)
    if isinstance(value, bool) or not isinstance(value, (int, float, type(None))):
        raise Malformed("malformed_value", f"{semconv.PREDICTION_VALUE}: expected a number")
    value = None if value is None or not math.isfinite(value) else float(value)
    label = _label(attrs, semconv.PREDICTION_LABEL, limit)
    scores = classes = None
    raw_s, raw_c = attrs.get(semconv.PREDICTION_SCORES), attrs.get(semconv.PREDICTION_CLASSES)
    if (
        isinstance(raw_s, list)
        and isinstance(raw_c, list)
        and len(raw_s) == len(raw_c) > 0
        and all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in raw_s)
    ):
        scores = tuple(float(s) for s in raw_s)
        classes = tuple(canonical(c)[:limit] for c in raw_c)
    if value is None and label is None and scores is None:
        raise Malformed("malformed_value", "prediction: no value, label or scores")
    t = attrs.get(semconv.PREDICTION_TIME)
    when = int(t) if isinstance(t, int) and not isinstance(t, bool) and t > 0 else time_ns
    seg_values = {
        k[len(semconv.SEGMENT_PREFIX) :]: canonical(v)
        for k, v in attrs.items()
        if k.startswith(semconv.SEGMENT_PREFIX)
    }
    segment = semconv.segment_key(seg_values) if seg_values else ""
    if len(segment) > limit:
        raise Malformed("too_long", f"{semconv.SEGMENT}: longer than {limit} characters")
    if segment and segment_of is not None:
        segment = segment_of(model, segment)
    return Prediction(
        model,
        pid,
        version,
        env or semconv.DEFAULT_ENVIRONMENT,
        segment,
        when,
        task,
        value,
        label,
        scores,
        classes,
    )


def parse_actual(attrs: Mapping[str, Any], time_ns: int, limit: int) -> Actual:
    """Return the actual in a record's attributes (:class:`Malformed` if unusable)."""
    model = _string(attrs, semconv.MODEL_NAME, limit, required=True)
    pid = _string(attrs, semconv.PREDICTION_ID, limit, required=True)
    assert model is not None
    assert pid is not None
    label = _label(attrs, semconv.ACTUAL_LABEL, limit)
    value = _number(attrs, semconv.ACTUAL_VALUE)
    if label is None and value is None:
        raise Malformed("malformed_value", "actual: neither ml.actual.label nor ml.actual.value")
    version = _string(attrs, semconv.MODEL_VERSION, limit, required=False)
    return Actual(model, pid, time_ns, label, value, version)


class JoinTables:
    """The join's tables on one connection; the caller owns transactions."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)

    def lookup(self, table: str, model: str, ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """Return the rows of ``table`` for ``model`` and ``ids``: id -> (time_ns, data, ...)."""
        cols = "id, time_ns, data" + (", actual" if table == JOINED else "")
        out: dict[str, tuple[Any, ...]] = {}
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT {cols} FROM {table} WHERE model=? AND id IN ({marks})",
                (model, *chunk),
            ):
                out[row[0]] = row[1:]
        return out

    def delete(self, table: str, keys: Iterable[tuple[str, str]]) -> None:
        """Delete rows by (model, id)."""
        self.conn.executemany(f"DELETE FROM {table} WHERE model=? AND id=?", keys)

    def oldest(self, table: str, n: int) -> list[tuple[str, str, int, str]]:
        """Return the ``n`` oldest rows (model, id, time_ns, data)."""
        return list(
            self.conn.execute(
                f"SELECT model, id, time_ns, data FROM {table} ORDER BY time_ns LIMIT ?",
                (n,),
            )
        )

    def older_than(self, table: str, cutoff_ns: int) -> list[tuple[str, str, int, str]]:
        """Return the rows older than ``cutoff_ns`` (model, id, time_ns, data)."""
        return list(
            self.conn.execute(
                f"SELECT model, id, time_ns, data FROM {table} WHERE time_ns < ?",
                (cutoff_ns,),
            )
        )

    def counts(self, table: str) -> dict[str, int]:
        """Return rows per model."""
        sql = f"SELECT model, COUNT(*) FROM {table} GROUP BY model"
        return {str(m): int(n) for m, n in self.conn.execute(sql)}

    def counters(self) -> dict[tuple[str, str], int]:
        """Return the stored counters: (model, name) -> value."""
        return {
            (str(m), str(n)): int(v)
            for m, n, v in self.conn.execute("SELECT model, name, value FROM otelml_join_counters")
        }
