"""What one feature (or prediction output) of one series has seen: counts, sketches, buffers.

Numbers wait in a small buffer, then in a float64 stage, and are binned once ``STAGE_AT`` of
them wait, because a sketch update has a fixed cost of tens of microseconds; categories are
counted in a dict before they reach the capped :class:`~otelml.stats.CategoryCounts`. A value
of a feature whose kind is not known yet decides it (numbers: numeric, strings: categorical).

A NaN counts as missing unless ``nan_missing`` is False: pandas cannot tell a NaN from a
missing value, so only then do the other containers agree with it (docs/instrumentation.md).
Numbers of a categorical feature are spelled by :func:`otelml._categories.canonical`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from otelml._categories import canonical
from otelml.instrumentation._category_counting import count_objects, sorted_counts
from otelml.stats.categorical import CategoryCounts
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram

FOLD_AT = 256
"""Single rows per series buffered before they are cut into columns and staged."""

STAGE_AT = 4096
"""Staged values per feature before they are binned: a sketch update costs tens of µs whatever
its size, and 4096 float64 values take the memory that 1024 Python floats took before."""

_NONE = type(None)
_NUMBERS = frozenset((float, int))
_NUMBERS_OR_NONE = frozenset((float, int, _NONE))
_STRINGS_OR_NONE = frozenset((str, _NONE))

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
        "nan_missing",
        "stage",
        "staged",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        kind: str | None,
        edges: np.ndarray | None,
        cap: int,
        nan_missing: bool = True,
    ) -> None:
        self.name = name
        self.nan_missing = nan_missing
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
        return FeatureState(self.name, self.kind, self.edges, self.cap, self.nan_missing)

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
            if self.nan_missing:
                self.missing += n_nan
            else:
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
            key = canonical(v)
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
            self.add_labels(sorted_counts(arr.tolist()))
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
                {
                    canonical(v): int(c)
                    for v, c in zip(values.tolist(), counts.tolist(), strict=True)
                }
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
            counts = count_objects(arr, values)
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


def _kind_of(v: Any) -> str | None:
    if isinstance(v, (str, np.str_)):
        return CATEGORICAL
    if isinstance(v, (int, float, np.number, np.bool_)):
        return NUMERIC
    return None
