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

import math
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

from otelml import semconv
from otelml.stats.categorical import CategoryCounts
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram

FOLD_AT = 256
"""Single rows per series buffered before they are cut into columns and staged."""

STAGE_AT = 4096
"""Staged values per feature before they are binned: a sketch update costs tens of µs whatever
its size, and 4096 float64 values take the memory that 1024 Python floats took before."""

MAX_SCHEMAS = 16
"""Distinct key sets (row schemas) per series whose rows are buffered whole; others go per value."""

_NONE = type(None)
_NUMBERS = frozenset((float, int))
_NUMBERS_OR_NONE = frozenset((float, int, _NONE))
_STRINGS_OR_NONE = frozenset((str, _NONE))
_PANDAS_COUNT_AT = 1000  # below this, pandas' per-call cost outweighs its faster hash table

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
        "stage",
        "staged",
    )  # fmt: skip

    def __init__(self, name: str, kind: str | None, edges: np.ndarray | None, cap: int) -> None:
        self.name = name
        self.kind = kind
        self.edges = edges
        self.cap = cap
        self.buf: list[float] = []
        self.stage: list[np.ndarray] = []
        self.staged = 0
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

    def stage_numbers(self, x: np.ndarray) -> None:
        """Keep float64 numbers for binning once :data:`STAGE_AT` of them wait.

        A sketch update has a fixed cost of tens of microseconds, which dominates below a few
        thousand values.
        """
        if x.size:
            self.stage.append(x)
            self.staged += x.size
            if self.staged >= STAGE_AT:
                self._bin_staged()

    def _bin_staged(self) -> None:
        if self.stage:
            stage, self.stage, self.staged = self.stage, [], 0
            self.add_numbers(stage[0] if len(stage) == 1 else np.concatenate(stage))

    def add_labels(self, counts: Mapping[str, int]) -> None:
        """Count category values (the sketch caps distinct values into ``__other__``)."""
        if not counts:
            return
        if self.cats is None:
            self.cats = CategoryCounts(cap=self.cap)
        self.cats.update_counts(counts)

    def _count_strings(self, counts: Mapping[Any, int]) -> None:
        cb = self.catbuf
        for k, c in counts.items():
            if k is None:
                self.missing += c
            else:
                cb[k] = cb.get(k, 0) + c
        if len(cb) > 4 * self.cap:
            self.add_labels(cb)
            self.catbuf = {}

    def spill(self) -> None:
        """Stage pending single-row numbers and count pending categories (binning may wait)."""
        if self.buf:
            buf, self.buf = self.buf, []
            self.stage_numbers(np.asarray(buf, dtype=np.float64))
        if self.catbuf:
            catbuf, self.catbuf = self.catbuf, {}
            self.add_labels(catbuf)

    def fold(self) -> None:
        """Bin every pending value with numpy."""
        self.spill()
        self._bin_staged()

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
                    self.spill()
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
            self.spill()

    def add_values(self, values: Sequence[Any]) -> None:
        """Count values of a feature whose kind is known, as :meth:`add_value` would one by one.

        One pass over the value types decides: plain floats and ints (and None) of a numeric
        feature are staged as one array, plain strings (and None) of a categorical feature are
        counted with :class:`collections.Counter`; anything else goes value by value.
        """
        if not values:
            return
        types = set(map(type, values))
        if self.kind == NUMERIC:
            if types <= _NUMBERS:
                self.stage_numbers(np.asarray(values, dtype=np.float64))
                return
            if types <= _NUMBERS_OR_NONE:
                self.missing += values.count(None)
                numbers = [v for v in values if v is not None]
                self.stage_numbers(np.asarray(numbers, dtype=np.float64))
                return
        elif self.kind == CATEGORICAL and types <= _STRINGS_OR_NONE:
            self._count_strings(Counter(values))
            return
        for v in values:
            self.add_value(v)

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
                self._infer_then_count(arr)
                return
        if self.kind == NUMERIC:
            if kind in "fiub":
                self.add_numbers(arr)
            elif kind in "US":
                self.mismatch += len(arr)
            else:
                self._objects(arr)
        elif kind == "U":
            self.add_labels(_sorted_counts(arr.tolist()))
        elif kind in "Siub":
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

    def _infer_then_count(self, arr: np.ndarray) -> None:
        # The first value of a known kind decides the feature's kind, exactly as value by value;
        # the rest are counted with that kind.
        values = arr.tolist() if arr.dtype.kind == "O" else list(arr)
        i, n = 0, len(values)
        while self.kind is None and i < n:
            self.add_value(values[i])
            i += 1
        if i < n:
            self.add_values(values[i:])

    def _objects(self, arr: np.ndarray) -> None:
        values = arr.tolist()
        if self.kind == CATEGORICAL:
            counts = _count_objects(arr, values)
            if counts and all(type(k) is str or k is None for k in counts):
                self.missing += counts.pop(None, 0)
                self.add_labels(counts)
                return
            plain: dict[str, int] = {}
            for v in values:
                if type(v) is str:
                    plain[v] = plain.get(v, 0) + 1
                else:
                    self.add_value(v)
            self.add_labels(plain)
            return
        types = set(map(type, values))
        if types <= _NUMBERS_OR_NONE:
            self.missing += values.count(None) if _NONE in types else 0
            numbers = [v for v in values if v is not None] if _NONE in types else values
            self.add_numbers(np.asarray(numbers, dtype=np.float64))
            return
        floats: list[float] = []
        for v in values:
            t = type(v)
            if t is float or t is int:
                floats.append(v)
            elif v is None:
                self.missing += 1
            elif isinstance(v, (int, float, np.number)):
                floats.append(float(v))
            else:
                self.mismatch += 1
        self.add_numbers(np.asarray(floats, dtype=np.float64))

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


def _count_objects(arr: np.ndarray, values: list[Any] | None) -> dict[Any, int]:
    """Return ``{value: count}`` of an object array in first-seen order ({} if unhashable).

    Equal values of different types (1, 1.0, True) share one key, so callers accept the
    result only when every key is a ``str`` (or None). With pandas already imported, its hash
    table counts about twice as fast as :class:`collections.Counter`; pandas merges None, NaN
    and other missing markers into one code, so any of them sends the array to the Counter.
    """
    pd = sys.modules.get("pandas")
    if pd is not None and len(arr) >= _PANDAS_COUNT_AT:
        try:
            codes, uniques = pd.factorize(arr)
        except TypeError:
            return {}
        if len(codes) and codes.min() >= 0:
            counts = np.bincount(codes, minlength=len(uniques))
            return dict(zip(uniques.tolist(), counts.tolist(), strict=True))
    try:
        return Counter(arr.tolist() if values is None else values)
    except TypeError:
        return {}


def _sorted_counts(values: list[Any]) -> dict[str, int]:
    """Return ``{str(value): count}`` in sorted order, as ``np.unique`` would give it."""
    return {str(k): c for k, c in sorted(Counter(values).items())}


def _label_counts(labels: np.ndarray) -> dict[str, int]:
    """Return the counts of ``labels.astype(str)`` in sorted order, without converting when
    the labels are already Python strings (the usual object array of class names)."""
    arr = np.asarray(labels)
    if arr.dtype.kind == "O":
        counts = _count_objects(arr, None)
        # A numpy str array drops trailing NULs: such labels take numpy's own path.
        if counts and all(type(k) is str and not k.endswith("\0") for k in counts):
            return dict(sorted(counts.items()))
    return _sorted_counts(arr.astype(str).tolist())


def _kind_of(v: Any) -> str | None:
    if isinstance(v, (str, np.str_)):
        return CATEGORICAL
    if isinstance(v, (int, float, np.number, np.bool_)):
        return NUMERIC
    return None


class RowSchema:
    """Rows of one series with the same keys, buffered whole until the series spills them."""

    __slots__ = ("numeric", "ready", "rows", "states")

    def __init__(self, states: list[FeatureState]) -> None:
        self.states = states
        self.rows: list[tuple[Any, ...]] = []
        self.ready = self.numeric = False
        self.check()

    def check(self) -> bool:
        """Return whether rows may be buffered: every feature's kind is known (kinds never
        change once known, so buffered rows count exactly as they would value by value)."""
        self.ready = all(f.kind is not None for f in self.states)
        self.numeric = self.ready and all(f.kind == NUMERIC for f in self.states)
        return self.ready

    def spill(self) -> None:
        """Count the buffered rows: as one float64 block when every value is a plain number of
        a numeric feature (one type pass, one conversion), else column by column."""
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        if self.numeric and set(map(type, chain.from_iterable(rows))) <= _NUMBERS:
            block = np.array(rows, dtype=np.float64)
            for j, f in enumerate(self.states):
                f.stage_numbers(block[:, j])
            return
        for f, column in zip(self.states, zip(*rows, strict=True), strict=True):
            f.add_values(column)


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
