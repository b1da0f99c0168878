"""Delta observations → one :class:`~otelml.processor.state.Update` per (series, window).

The store's writer calls :func:`to_updates` after cumulative points became deltas. Explicit
histograms of one series and window are summed per bucket layout before a sketch is built, so
the cost grows with series, not with replicas.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from otelml.processor.ingest import CATEGORY, INVALID, MISSING, NUMERIC, ROWS
from otelml.processor.temporality import ExpoPoint, HistPoint, Value
from otelml.processor.window import PREDICTION_FEATURE, FeatureWindow, SeriesKey, Update


class _Acc:
    __slots__ = ("categories", "invalid", "missing", "numeric", "rows")

    def __init__(self) -> None:
        self.numeric: list[Value] = []
        self.categories: dict[str, int] = {}
        self.invalid: dict[str, int] = {}
        self.missing = 0
        self.rows = 0


def to_updates(
    items: Iterable[tuple[SeriesKey, int, int, str, Value]], max_categories: int
) -> list[Update]:
    """Return one update per (series, window) from delta ``(key, ws, kind, label, value)``s."""
    from otelml.stats.categorical import CategoryCounts

    accs: dict[tuple[SeriesKey, int], _Acc] = {}
    for key, ws, kind, label, value in items:
        acc = accs.get((key, ws))
        if acc is None:
            acc = accs[(key, ws)] = _Acc()
        is_feature = key.feature != PREDICTION_FEATURE
        if kind == NUMERIC:
            acc.numeric.append(value)
            if is_feature:
                acc.rows += value.count  # type: ignore[union-attr]
            continue
        n = int(value)  # type: ignore[arg-type]
        if kind == CATEGORY:
            acc.categories[label] = acc.categories.get(label, 0) + n
        elif kind == MISSING:
            acc.missing += n
        elif kind == INVALID:
            acc.invalid[label] = acc.invalid.get(label, 0) + n
        elif kind == ROWS:
            acc.rows += n
            continue
        if is_feature:
            acc.rows += n
    out = []
    for (key, ws), acc in accs.items():
        fw = FeatureWindow(missing=acc.missing, invalid=acc.invalid, rows=acc.rows)
        if acc.numeric:
            fw = _with_numeric(fw, acc.numeric)
        if acc.categories:
            cc = CategoryCounts(cap=max_categories)
            cc.update_counts(acc.categories)
            fw.categories = cc
        out.append(Update(key, ws, fw))
    return out


def _nan_op(op: Callable[[float, float], float], a: float, b: float) -> float:
    """Return ``op(a, b)`` ignoring a NaN side (unknown min / max)."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return op(a, b)


def _with_numeric(fw: FeatureWindow, values: list[Value]) -> FeatureWindow:
    """Return ``fw`` with the histograms added; explicit ones summed per bounds first."""
    from otelml.stats.exponential import ExponentialHistogram
    from otelml.stats.histogram import FixedHistogram

    groups: dict[tuple[float, ...], list[Any]] = {}
    for v in values:
        if isinstance(v, HistPoint):
            g = groups.get(v.bounds)
            if g is None:
                groups[v.bounds] = [v.counts.copy(), v.sum, v.min, v.max]
            else:
                g[0] += v.counts
                g[1] += v.sum
                g[2] = _nan_op(min, g[2], v.min)
                g[3] = _nan_op(max, g[3], v.max)
            continue
        assert isinstance(v, ExpoPoint)
        h = ExponentialHistogram.from_otel(
            v.scale, v.zero_count, v.pos_offset, v.pos_counts, v.neg_offset, v.neg_counts,
            sum=v.sum, min=None if math.isnan(v.min) else v.min,
            max=None if math.isnan(v.max) else v.max,
        )  # fmt: skip
        fw = fw.merge(FeatureWindow(numeric=h))
    for bounds, (counts, total, lo, hi) in groups.items():
        fh = FixedHistogram.from_counts(
            np.asarray(bounds, dtype=np.float64), counts, sum=total, min=lo, max=hi
        )
        fw = fw.merge(FeatureWindow(numeric=fh))
    return fw
