"""In-process aggregation: per (model, version, environment, segment, feature) sketches.

The hot path never touches OpenTelemetry. A single row whose features all have a known kind is
appended whole, as one tuple, to a buffer of rows with the same keys (``MAX_SCHEMAS`` key sets
per series); every ``FOLD_AT`` rows the buffer is counted: as one float64 block when every value
is a plain number, else column by column after one pass over the value types (floats, ints
and None as one array, strings and None with ``collections.Counter``; a column holding bools,
numpy scalars or wrong types value by value, with the same result). Numbers are staged and
binned once ``STAGE_AT`` of them wait, because a sketch update has a fixed cost of tens of
microseconds. A row with a feature whose
kind is not known yet is counted value by value at once (its first value decides the kind).
Categories keep first-seen order (it decides which ones a full ``max_categories`` cap keeps),
except across rows of different key sets buffered between two spills.
A batch is binned outside the lock, once per column, and merged under it.
:meth:`ModelAggregator.collect` swaps the state out under the lock, so recording never waits for
an export.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from otelml import semconv
from otelml.instrumentation._category_counting import label_counts as _label_counts
from otelml.instrumentation._feature_state import (
    CATEGORICAL,
    FOLD_AT,
    NUMERIC,
    STAGE_AT,
    FeatureState,
    Sketch,
)
from otelml.instrumentation._row_buffer import RowSchema
from otelml.stats.histogram import FixedHistogram

__all__ = [
    "CATEGORICAL",
    "DURATION_EDGES",
    "FOLD_AT",
    "MAX_SCHEMAS",
    "NUMERIC",
    "STAGE_AT",
    "FeatureState",
    "ModelAggregator",
    "RowSchema",
    "SegmentState",
    "Sketch",
]

MAX_SCHEMAS = 16
"""Distinct key sets (row schemas) per series whose rows are buffered whole; others go per value."""

DURATION_EDGES = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
"""Bucket edges of ``ml.predict.duration`` in seconds (predict latencies span 100 µs – 1 min)."""


@dataclass
class SegmentState:
    """One (model, version, environment, segment) series: rows, features, outputs, latency."""

    segment: str
    rows: int = 0
    features: dict[str, FeatureState] = field(default_factory=dict)
    values: FeatureState | None = None
    labels: FeatureState | None = None
    duration: FixedHistogram | None = None
    durations: list[float] = field(default_factory=list)
    pending: int = 0
    schemas: dict[tuple[str, ...], RowSchema] = field(default_factory=dict)

    def spill(self) -> None:
        """Move buffered rows and pending values into the features (binning may wait)."""
        self.pending = 0
        for schema in self.schemas.values():
            schema.spill()
        for f in self.unique_features():
            f.spill()
        for out in (self.values, self.labels):
            if out is not None:
                out.spill()
        if len(self.durations) >= STAGE_AT:
            self._bin_durations()

    def fold(self) -> None:
        """Bin every pending value of the series."""
        self.spill()
        for f in self.unique_features():
            f.fold()
        for out in (self.values, self.labels):
            if out is not None:
                out.fold()
        self._bin_durations()

    def _bin_durations(self) -> None:
        if self.durations:
            if self.duration is None:
                self.duration = FixedHistogram(DURATION_EDGES)
            self.duration.update_many(self.durations)
            self.durations = []

    def unique_features(self) -> Iterable[FeatureState]:
        """Return each feature state once (overflowed names alias one state)."""
        seen: dict[int, FeatureState] = {}
        for f in self.features.values():
            seen.setdefault(id(f), f)
        return seen.values()


class ModelAggregator:
    """Lock-protected in-process state of one (model, version, environment)."""

    def __init__(
        self,
        model: str,
        version: str,
        environment: str,
        *,
        edges: Mapping[str, Sequence[float]] | None = None,
        kinds: Mapping[str, str] | None = None,
        prediction_edges: Sequence[float] | None = None,
        max_categories: int = 100,
        max_features: int = 500,
        nan_is_missing: bool = True,
    ) -> None:
        self.key = (model, version, environment)
        self._nan_missing = nan_is_missing
        self._edges = {k: np.asarray(v, dtype=np.float64) for k, v in (edges or {}).items()}
        # Kinds are compared by identity on the hot path: store the module's constants.
        self._kinds: dict[str, str] = {
            k: NUMERIC if v == NUMERIC else CATEGORICAL for k, v in (kinds or {}).items()
        }
        self._pred_edges = (
            np.asarray(prediction_edges, dtype=np.float64) if prediction_edges is not None else None
        )
        self._cap = max_categories
        self._max_features = max_features
        self._lock = threading.Lock()
        self._segments: dict[str, SegmentState] = {}

    # ------------------------------------------------------------------ state lookup
    def _segment(self, seg: str) -> SegmentState:
        s = self._segments.get(seg)
        if s is None:
            s = self._segments[seg] = SegmentState(seg)
            s.values = FeatureState("", NUMERIC, self._pred_edges, self._cap, self._nan_missing)
            s.labels = FeatureState("", CATEGORICAL, None, self._cap, self._nan_missing)
        return s

    def _feature(self, s: SegmentState, name: str) -> FeatureState:
        f = s.features.get(name)
        if f is None:
            if len(s.features) >= self._max_features:
                # Beyond the cap every new name shares one "__overflow__" series.
                f = s.features.get(semconv.OVERFLOW_VALUE)
                if f is None:
                    f = FeatureState(
                        semconv.OVERFLOW_VALUE, None, None, self._cap, self._nan_missing
                    )
                    s.features[semconv.OVERFLOW_VALUE] = f
            else:
                f = FeatureState(
                    name, self._kinds.get(name), self._edges.get(name), self._cap, self._nan_missing
                )
            s.features[name] = f
        return f

    # ------------------------------------------------------------------ recording
    def record_row(
        self,
        row: Mapping[str, Any],
        segments: Sequence[str],
        value: float | None,
        label: str | None,
        duration: float,
    ) -> None:
        """Count one row of features and its output in each of ``segments``."""
        keys = tuple(row)
        values = tuple(row.values())
        with self._lock:
            for seg in segments:
                s = self._segments.get(seg) or self._segment(seg)
                s.rows += 1
                schemas = s.schemas
                schema = schemas.get(keys)
                if schema is None and len(schemas) < MAX_SCHEMAS:
                    feats = s.features
                    schema = schemas[keys] = RowSchema(
                        [feats.get(k) or self._feature(s, k) for k in keys]
                    )
                if schema is not None and (schema.ready or schema.check()):
                    # Hot path: the whole row as one tuple; cut into columns at spill time.
                    schema.rows.append(values)
                else:
                    self._row_values(s, row)
                if value is not None:
                    vs = s.values
                    if type(value) is float:
                        vs.buf.append(value)  # type: ignore[union-attr]
                    else:
                        vs.add_value(value)  # type: ignore[union-attr]
                if label is not None:
                    ls = s.labels
                    if type(label) is str:
                        cb = ls.catbuf  # type: ignore[union-attr]
                        cb[label] = cb.get(label, 0) + 1
                    else:
                        ls.add_value(label)  # type: ignore[union-attr]
                if seg == "":
                    s.durations.append(duration)
                s.pending += 1
                if s.pending >= FOLD_AT:
                    s.spill()

    def _row_values(self, s: SegmentState, row: Mapping[str, Any]) -> None:
        """Count one row value by value (its features' kinds are not all known yet)."""
        for schema in s.schemas.values():
            schema.spill()  # earlier buffered rows first: categories keep first-seen order
        feats = s.features
        for name, v in row.items():
            f = feats.get(name)
            if f is None:
                f = self._feature(s, name)
            t = type(v)
            if (t is float or t is int) and f.kind is NUMERIC:
                f.buf.append(v)
            elif t is str and f.kind is CATEGORICAL:
                cb = f.catbuf
                cb[v] = cb.get(v, 0) + 1
                if len(cb) > 4 * f.cap:
                    f.spill()
            else:
                f.add_value(v)

    def record_columns(
        self,
        columns: Mapping[str, np.ndarray],
        n: int,
        segment: str,
        values: np.ndarray | None,
        labels: np.ndarray | None,
        duration: float | None,
    ) -> None:
        """Count a batch of ``n`` rows (one segment's rows): binned here, merged under the lock."""
        # Bin outside the lock on private states, then merge: other threads are not held up by
        # numpy work on a large batch.
        with self._lock:
            s = self._segment(segment)
            if s.pending:
                s.spill()  # buffered single rows first: categories keep first-seen order
            templates = [(name, self._feature(s, name).empty_like()) for name in columns]
            v_tmpl = s.values.empty_like()  # type: ignore[union-attr]
            l_tmpl = s.labels.empty_like()  # type: ignore[union-attr]
        for name, tmpl in templates:
            tmpl.add_column(columns[name])
            tmpl.fold()
        if values is not None:
            v_tmpl.add_numbers(values)
        if labels is not None:
            l_tmpl.add_labels(_label_counts(labels))
        with self._lock:
            s = self._segment(segment)
            s.rows += n
            for name, tmpl in templates:
                self._feature(s, name).merge_from(tmpl)
            s.values.merge_from(v_tmpl)  # type: ignore[union-attr]
            s.labels.merge_from(l_tmpl)  # type: ignore[union-attr]
            if duration is not None:
                s.durations.append(duration)

    def record_duration(self, duration: float) -> None:
        """Count the latency of one call (outputs may have been recorded elsewhere)."""
        with self._lock:
            s = self._segment("")
            s.durations.append(duration)

    # ------------------------------------------------------------------ collection
    def collect(self) -> dict[str, SegmentState]:
        """Return everything recorded since the last call, folded; the state starts empty."""
        with self._lock:
            segments, self._segments = self._segments, {}
        for s in segments.values():
            s.fold()
        return segments
