"""In-process aggregation: per (model, version, environment, segment, feature) sketches.

The hot path never touches OpenTelemetry. A single row appends each numeric value to a short
per-feature list (a few tens of nanoseconds); the list is binned with numpy when it reaches
``FOLD_AT`` values or at collection time. A batch is binned outside the lock, once per column,
and merged under it. :meth:`ModelAggregator.collect` swaps the state out under the lock, so
recording never waits for an export.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from otelml import semconv
from otelml.stats.categorical import CategoryCounts
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram

FOLD_AT = 1024
"""Pending single-row values per feature before they are binned with numpy."""

DURATION_EDGES = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
"""Bucket edges of ``ml.predict.duration`` in seconds (predict latencies span 100 µs – 1 min)."""

Sketch = FixedHistogram | ExponentialHistogram
NUMERIC, CATEGORICAL = "numeric", "categorical"


def _new_sketch(edges: np.ndarray | None) -> Sketch:
    return FixedHistogram(edges) if edges is not None else ExponentialHistogram()


class FeatureState:
    """Everything seen of one feature (or prediction output) in one series since the last swap."""

    __slots__ = (
        "buf",
        "cap",
        "catbuf",
        "cats",
        "edges",
        "hist",
        "inf",
        "kind",
        "mismatch",
        "missing",
        "name",
        "nan",
    )  # fmt: skip

    def __init__(self, name: str, kind: str | None, edges: np.ndarray | None, cap: int) -> None:
        self.name = name
        self.kind = kind
        self.edges = edges
        self.cap = cap
        self.buf: list[float] = []
        self.catbuf: dict[str, int] = {}
        self.hist: Sketch | None = None
        self.cats: CategoryCounts | None = None
        self.missing = 0
        self.nan = 0
        self.inf = 0
        self.mismatch = 0

    def empty_like(self) -> FeatureState:
        """Return an empty state with the same name, kind, edges and cap."""
        return FeatureState(self.name, self.kind, self.edges, self.cap)

    # ------------------------------------------------------------------ numeric values
    def add_numbers(self, x: np.ndarray) -> None:
        """Bin an array of numbers (NaN and ±inf are counted apart, never binned)."""
        x = np.asarray(x, dtype=np.float64)
        if x.size == 0:
            return
        finite = np.isfinite(x)
        n_finite = int(np.count_nonzero(finite))
        if n_finite != x.size:
            n_nan = int(np.count_nonzero(np.isnan(x)))
            self.nan += n_nan
            self.inf += x.size - n_finite - n_nan
            x = x[finite]
        if n_finite:
            if self.hist is None:
                self.hist = _new_sketch(self.edges)
            self.hist.update_many(x)

    def add_labels(self, counts: Mapping[str, int]) -> None:
        """Count category values (the sketch caps distinct values into ``__other__``)."""
        if not counts:
            return
        if self.cats is None:
            self.cats = CategoryCounts(cap=self.cap)
        self.cats.update_counts(counts)

    def fold(self) -> None:
        """Bin pending single-row values with numpy."""
        if self.buf:
            buf, self.buf = self.buf, []
            self.add_numbers(np.asarray(buf, dtype=np.float64))
        if self.catbuf:
            catbuf, self.catbuf = self.catbuf, {}
            self.add_labels(catbuf)

    def add_value(self, v: Any) -> None:
        """Count one value of any type: the single-row slow path (None, strings, numpy scalars)."""
        if v is None:
            self.missing += 1
            return
        if self.kind is None:
            self.kind = _kind_of(v)
            if self.kind is None:
                self.mismatch += 1
                return
        if self.kind == NUMERIC:
            if isinstance(v, (int, float, np.number, np.bool_)):
                self.buf.append(float(v))
                if len(self.buf) >= FOLD_AT:
                    self.fold()
            else:
                self.mismatch += 1
            return
        if isinstance(v, (str, np.str_)):
            key = str(v)
        elif isinstance(v, float) and math.isnan(v):
            self.missing += 1  # pandas' missing marker in object columns
            return
        elif isinstance(v, (int, float, bool, np.number, np.bool_)):
            key = str(v.item() if isinstance(v, np.generic) else v)
        else:
            self.mismatch += 1
            return
        self.catbuf[key] = self.catbuf.get(key, 0) + 1
        if len(self.catbuf) > 4 * self.cap:
            self.fold()

    def add_column(self, arr: np.ndarray) -> None:
        """Count a column of a batch, vectorised where the dtype allows."""
        if isinstance(arr, np.ma.MaskedArray):
            mask = np.ma.getmaskarray(arr)
            self.missing += int(np.count_nonzero(mask))
            arr = np.asarray(arr.data)[~mask]
        kind = arr.dtype.kind
        if self.kind is None:
            if kind in "fiub":
                self.kind = NUMERIC
            elif kind in "US":
                self.kind = CATEGORICAL
            else:
                for v in arr:
                    self.add_value(v)
                return
        if self.kind == NUMERIC:
            if kind in "fiub":
                self.add_numbers(arr)
            elif kind in "US":
                self.mismatch += len(arr)
            else:
                self._objects(arr)
        elif kind in "USiub":
            values, counts = np.unique(arr, return_counts=True)
            self.add_labels(
                {str(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)}
            )
        elif kind == "f":
            nan = np.isnan(arr)
            self.missing += int(np.count_nonzero(nan))
            values, counts = np.unique(arr[~nan], return_counts=True)
            self.add_labels(
                {str(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)}
            )
        else:
            self._objects(arr)

    def _objects(self, arr: np.ndarray) -> None:
        if self.kind == CATEGORICAL:
            counts: dict[str, int] = {}
            for v in arr.tolist():
                if type(v) is str:
                    counts[v] = counts.get(v, 0) + 1
                else:
                    self.add_value(v)
            self.add_labels(counts)
            return
        numbers: list[float] = []
        for v in arr.tolist():
            t = type(v)
            if t is float or t is int:
                numbers.append(v)
            elif v is None:
                self.missing += 1
            elif isinstance(v, (int, float, np.number)):
                numbers.append(float(v))
            else:
                self.mismatch += 1
        self.add_numbers(np.asarray(numbers, dtype=np.float64))

    # ------------------------------------------------------------------ merging (exporter side)
    def merge_from(self, other: FeatureState) -> None:
        """Add ``other``'s folded counts to this state (``other`` is left untouched)."""
        if other.hist is not None:
            if self.hist is None:
                self.hist = other.hist.copy()
            elif type(self.hist) is type(other.hist):
                self.hist = self.hist.merge(other.hist)  # type: ignore[arg-type]
        if other.cats is not None:
            self.cats = other.cats.copy() if self.cats is None else self.cats.merge(other.cats)
        self.missing += other.missing
        self.nan += other.nan
        self.inf += other.inf
        self.mismatch += other.mismatch
        if self.kind is None:
            self.kind = other.kind


def _kind_of(v: Any) -> str | None:
    if isinstance(v, (str, np.str_)):
        return CATEGORICAL
    if isinstance(v, (int, float, np.number, np.bool_)):
        return NUMERIC
    return None


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

    def fold(self) -> None:
        """Bin every pending value of the series."""
        for f in self.unique_features():
            f.fold()
        for out in (self.values, self.labels):
            if out is not None:
                out.fold()
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
    ) -> None:
        self.key = (model, version, environment)
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
            s.values = FeatureState("", NUMERIC, self._pred_edges, self._cap)
            s.labels = FeatureState("", CATEGORICAL, None, self._cap)
        return s

    def _feature(self, s: SegmentState, name: str) -> FeatureState:
        f = s.features.get(name)
        if f is None:
            if len(s.features) >= self._max_features:
                # Beyond the cap every new name shares one "__overflow__" series.
                f = s.features.get(semconv.OVERFLOW_VALUE)
                if f is None:
                    f = FeatureState(semconv.OVERFLOW_VALUE, None, None, self._cap)
                    s.features[semconv.OVERFLOW_VALUE] = f
            else:
                f = FeatureState(name, self._kinds.get(name), self._edges.get(name), self._cap)
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
        with self._lock:
            for seg in segments:
                s = self._segments.get(seg) or self._segment(seg)
                s.rows += 1
                feats = s.features
                for name, v in row.items():
                    f = feats.get(name)
                    if f is None:
                        f = self._feature(s, name)
                    t = type(v)
                    # Hot path: plain numbers into a numeric feature, plain strings into a
                    # categorical one; pending lists are folded per series every FOLD_AT rows.
                    # Everything else takes FeatureState.add_value.
                    if (t is float or t is int) and f.kind is NUMERIC:
                        f.buf.append(v)
                    elif t is str and f.kind is CATEGORICAL:
                        cb = f.catbuf
                        cb[v] = cb.get(v, 0) + 1
                        if len(cb) > 4 * f.cap:
                            f.fold()
                    else:
                        f.add_value(v)
                if value is not None:
                    s.values.add_value(value)  # type: ignore[union-attr]
                if label is not None:
                    s.labels.add_value(label)  # type: ignore[union-attr]
                if seg == "":
                    s.durations.append(duration)
                s.pending += 1
                if s.pending >= FOLD_AT:
                    s.pending = 0
                    s.fold()

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
            templates = [(name, self._feature(s, name).empty_like()) for name in columns]
            v_tmpl = s.values.empty_like()  # type: ignore[union-attr]
            l_tmpl = s.labels.empty_like()  # type: ignore[union-attr]
        for name, tmpl in templates:
            tmpl.add_column(columns[name])
            tmpl.fold()
        if values is not None:
            v_tmpl.add_numbers(values)
        if labels is not None:
            l_tmpl.add_column(np.asarray(labels).astype(str))
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
