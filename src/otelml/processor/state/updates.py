"""Delta observations → one :class:`~otelml.processor.state.aggregator.Update` per (series, window).

The store's writer calls :func:`convert` with a request's observations: cumulative points become
deltas (:class:`~otelml.processor.state.temporality.TemporalityTracker`) and every delta is added to
an :class:`UpdateBuilder`, which sums explicit histograms of one series and window per bucket
layout before a sketch is built, so the cost of sketches grows with series, not with replicas.

Runs of cumulative explicit-bucket points with one layout (what one histogram metric of a request
gives) are converted together: the tracker's bookkeeping stays point by point, in order, but the
bucket subtraction, the reset checks and the per-series sums are numpy calls over the whole run.
The result is the one that point-by-point conversion gives (tests hold them equal).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from otelml.processor.state.observations import (
    CATEGORY,
    INVALID,
    MISSING,
    NUMERIC,
    ROWS,
    Observation,
)
from otelml.processor.state.temporality import (
    DIFF,
    SKIP,
    ExpoPoint,
    HistPoint,
    StreamsFull,
    TemporalityTracker,
    Value,
    is_zero,
    subtract,
)
from otelml.processor.state.window import PREDICTION_FEATURE, FeatureWindow, SeriesKey, Update

_RUN_MIN = 16
"""Shorter runs of cumulative histogram points are converted point by point."""


class _Acc:
    __slots__ = ("categories", "explicit", "expo", "invalid", "missing", "rows")

    def __init__(self) -> None:
        self.expo: list[ExpoPoint] = []
        # bounds -> [counts, sum, min, max], in order of first appearance
        self.explicit: dict[tuple[float, ...], list[Any]] = {}
        self.categories: dict[str, int] = {}
        self.invalid: dict[str, int] = {}
        self.missing = 0
        self.rows = 0


class UpdateBuilder:
    """Collects deltas ``(key, window start, kind, label, value)``; :meth:`finish` returns one
    update per (series, window)."""

    def __init__(self, max_categories: int) -> None:
        self.max_categories = max_categories
        self._accs: dict[tuple[SeriesKey, int], _Acc] = {}
        # id(key) -> (key, {window start: acc}): ingestion hands out the same key objects, and
        # an identity lookup skips hashing the five strings of a SeriesKey per point.
        self._by_id: dict[int, tuple[SeriesKey, dict[int, _Acc]]] = {}

    def _acc(self, key: SeriesKey, ws: int) -> _Acc:
        entry = self._by_id.get(id(key))
        if entry is None or entry[0] is not key:
            entry = self._by_id[id(key)] = (key, {})
        acc = entry[1].get(ws)
        if acc is None:
            acc = self._accs.get((key, ws))
            if acc is None:
                acc = self._accs[(key, ws)] = _Acc()
            entry[1][ws] = acc
        return acc

    def add(self, key: SeriesKey, ws: int, kind: int, label: str, value: Value) -> None:
        """Add one delta."""
        acc = self._acc(key, ws)
        is_feature = key.feature != PREDICTION_FEATURE
        if kind == NUMERIC:
            if isinstance(value, HistPoint):
                _add_explicit(acc, value.bounds, value.counts, value.sum, value.min, value.max)
            else:
                assert isinstance(value, ExpoPoint)
                acc.expo.append(value)
            if is_feature:
                acc.rows += value.count
            return
        n = int(value)  # type: ignore[arg-type]
        if kind == CATEGORY:
            acc.categories[label] = acc.categories.get(label, 0) + n
        elif kind == MISSING:
            acc.missing += n
        elif kind == INVALID:
            acc.invalid[label] = acc.invalid.get(label, 0) + n
        elif kind == ROWS:
            acc.rows += n
            return
        if is_feature:
            acc.rows += n

    def add_rows(
        self,
        observations: Sequence[Observation],
        bounds: tuple[float, ...],
        counts: np.ndarray[Any, np.dtype[np.int64]],
        sums: Sequence[float],
        mins: Sequence[float],
        maxs: Sequence[float],
    ) -> None:
        """Add explicit-bucket deltas of one layout, as :meth:`add` would one by one.

        ``counts[i]``, ``sums[i]``, ``mins[i]``, ``maxs[i]`` are the delta of
        ``observations[i]`` (NUMERIC, on ``bounds``); the counts are summed per series and
        window by numpy, the float fields in order in Python (so the sums round the same).
        """
        slot: dict[int, int] = {}
        entries: list[list[Any]] = []
        group: list[int] = []
        row_accs: list[_Acc | None] = []
        for o, total, lo, hi in zip(observations, sums, mins, maxs, strict=True):
            acc = self._acc(o.key, o.window_start)
            row_accs.append(acc if o.key.feature != PREDICTION_FEATURE else None)
            g = acc.explicit.get(bounds)
            if g is None:
                g = acc.explicit[bounds] = [None, total, lo, hi]
            else:
                g[1] += total
                if lo == lo:  # not NaN (unknown): min ignoring NaN, as _nan_op
                    a = g[2]
                    if a != a or lo < a:
                        g[2] = lo
                if hi == hi:
                    a = g[3]
                    if a != a or hi > a:
                        g[3] = hi
            i = slot.get(id(g))
            if i is None:
                i = slot[id(g)] = len(entries)
                entries.append(g)
            group.append(i)
        gid = np.asarray(group, dtype=np.intp)
        order = np.argsort(gid, kind="stable")
        sorted_gid = gid[order]
        starts = np.flatnonzero(np.r_[True, sorted_gid[1:] != sorted_gid[:-1]])
        by_group = np.add.reduceat(counts[order], starts, axis=0)
        for row, i in zip(by_group, sorted_gid[starts].tolist(), strict=True):
            g = entries[i]
            g[0] = row if g[0] is None else g[0] + row
        for feature_acc, n in zip(row_accs, counts.sum(axis=1).tolist(), strict=True):
            if feature_acc is not None:
                feature_acc.rows += n

    def finish(self) -> list[Update]:
        """Return one update per (series, window), in order of first delta."""
        from otelml.stats.categorical import CategoryCounts

        out = []
        for (key, ws), acc in self._accs.items():
            fw = FeatureWindow(missing=acc.missing, invalid=acc.invalid, rows=acc.rows)
            if acc.expo or acc.explicit:
                fw = _with_numeric(fw, acc)
            if acc.categories:
                cc = CategoryCounts(cap=self.max_categories)
                cc.update_counts(acc.categories)
                fw.categories = cc
            out.append(Update(key, ws, fw))
        return out


def _add_explicit(
    acc: _Acc, bounds: tuple[float, ...], counts: Any, total: float, lo: float, hi: float
) -> None:
    g = acc.explicit.get(bounds)
    if g is None:
        acc.explicit[bounds] = [counts.copy(), total, lo, hi]
        return
    g[0] = g[0] + counts
    g[1] += total
    g[2] = _nan_op(min, g[2], lo)
    g[3] = _nan_op(max, g[3], hi)


def convert(
    tracker: TemporalityTracker, observations: Sequence[Observation], builder: UpdateBuilder
) -> int:
    """Add the deltas of ``observations`` (in order) to ``builder``; return how many points
    were dropped because the tracker holds ``max_streams`` streams already."""
    overflow = 0
    n = len(observations)
    i = 0
    while i < n:
        o = observations[i]
        v = o.value
        if o.stream is not None and type(v) is HistPoint:
            bounds = v.bounds
            j = i + 1
            while j < n:
                oj = observations[j]
                vj = oj.value
                if (
                    type(vj) is not HistPoint
                    or oj.stream is None
                    or (vj.bounds is not bounds and vj.bounds != bounds)
                ):
                    break
                j += 1
            run = observations[i:j]
            if len(run) >= _RUN_MIN and len({x.stream for x in run}) == len(run):
                overflow += _hist_run(tracker, run, builder)
            else:  # short, or a stream twice: its second point depends on the first
                for x in run:
                    overflow += _one(tracker, x, builder)
            i = j
            continue
        overflow += _one(tracker, o, builder)
        i += 1
    return overflow


def _one(tracker: TemporalityTracker, o: Observation, builder: UpdateBuilder) -> int:
    value: Any = o.value
    if o.stream is not None:
        try:
            step, prev = tracker.advance(o.stream, o.start_ns, o.time_ns, value)
        except StreamsFull:
            return 1
        if step == SKIP:
            return 0
        if type(value) is int:  # sums: inline what delta() does
            if step == DIFF and type(prev) is int and value >= prev:
                value -= prev
            if value == 0:
                return 0
        else:
            d = subtract(value, prev) if step == DIFF else None
            value = value if d is None else d  # None: a reset, the new value is all new
            if is_zero(value):
                return 0
    builder.add(o.key, o.window_start, o.kind, o.label, value)
    return 0


def _hist_run(
    tracker: TemporalityTracker, run: Sequence[Observation], builder: UpdateBuilder
) -> int:
    """Convert cumulative explicit points of one layout, each of a different stream."""
    bounds = run[0].value.bounds  # type: ignore[union-attr]
    advance = tracker.advance
    overflow = 0
    kept: list[Observation] = []
    diff: list[int] = []  # positions in kept to subtract the previous value from
    prevs: list[Any] = []
    for o in run:
        v: Any = o.value
        # The tracker keeps the value: give it its own counts, as a view would pin the whole
        # request's count matrix (the observation is this request's alone).
        v.counts = v.counts.copy()
        try:
            step, prev = advance(o.stream, o.start_ns, o.time_ns, v)  # type: ignore[arg-type]
        except StreamsFull:
            overflow += 1
            continue
        if step == SKIP:
            continue
        if (
            step == DIFF
            and type(prev) is HistPoint
            and (prev.bounds is bounds or prev.bounds == bounds)
            and prev.count <= v.count
        ):
            diff.append(len(kept))
            prevs.append(prev)
        kept.append(o)  # else a new stream taken whole, or a reset (all of it is new)
    if not kept:
        return overflow
    cur = np.stack([o.value.counts for o in kept])  # type: ignore[union-attr]
    sums: list[float] = [o.value.sum for o in kept]  # type: ignore[union-attr]
    mins: list[float] = [o.value.min for o in kept]  # type: ignore[union-attr]
    maxs: list[float] = [o.value.max for o in kept]  # type: ignore[union-attr]
    drop: set[int] = set()
    if diff:
        d = cur[diff] - np.stack([p.counts for p in prevs])
        reset = (d < 0).any(axis=1).tolist()
        empty = (d.sum(axis=1) == 0).tolist()
        for q, p, is_reset, is_empty, row in zip(diff, prevs, reset, empty, d, strict=True):
            if is_reset:
                continue  # keep the value whole
            if is_empty:
                drop.add(q)  # nothing new
                continue
            cur[q] = row
            sums[q] -= p.sum
            mins[q] = maxs[q] = math.nan  # a delta's min and max are unknown
    totals = cur.sum(axis=1).tolist()
    keep = [q for q, n in enumerate(totals) if n and q not in drop]
    if len(keep) == len(kept):
        builder.add_rows(kept, bounds, cur, sums, mins, maxs)
    elif keep:
        builder.add_rows(
            [kept[q] for q in keep], bounds, cur[keep],
            [sums[q] for q in keep], [mins[q] for q in keep], [maxs[q] for q in keep],
        )  # fmt: skip
    return overflow


def to_updates(
    items: Iterable[tuple[SeriesKey, int, int, str, Value]], max_categories: int
) -> list[Update]:
    """Return one update per (series, window) from delta ``(key, ws, kind, label, value)``s."""
    builder = UpdateBuilder(max_categories)
    for item in items:
        builder.add(*item)
    return builder.finish()


def _nan_op(op: Callable[[float, float], float], a: float, b: float) -> float:
    """Return ``op(a, b)`` ignoring a NaN side (unknown min / max)."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return op(a, b)


_TEMPLATES: dict[tuple[float, ...], Any] = {}


def _fixed(bounds: tuple[float, ...], counts: Any, total: float, lo: float, hi: float) -> Any:
    """Return a FixedHistogram on ``bounds`` (edges checked once per layout, then shared)."""
    from otelml.stats.histogram import FixedHistogram

    template = _TEMPLATES.get(bounds)
    if template is None:
        template = FixedHistogram.from_counts(
            np.asarray(bounds, dtype=np.float64), np.zeros(len(bounds) + 1, dtype=np.int64)
        )
        if len(_TEMPLATES) >= 1024:
            _TEMPLATES.clear()
        _TEMPLATES[bounds] = template
    h = template.copy()
    h.counts = np.array(counts, dtype=np.int64)
    h.sum, h.min, h.max = float(total), float(lo), float(hi)
    return h


def _with_numeric(fw: FeatureWindow, acc: _Acc) -> FeatureWindow:
    """Return ``fw`` with the histograms added: exponential ones in order, then the explicit
    ones summed per bounds."""
    from otelml.stats.exponential import ExponentialHistogram

    for v in acc.expo:
        h = ExponentialHistogram.from_otel(
            v.scale, v.zero_count, v.pos_offset, v.pos_counts, v.neg_offset, v.neg_counts,
            sum=v.sum, min=None if math.isnan(v.min) else v.min,
            max=None if math.isnan(v.max) else v.max,
        )  # fmt: skip
        fw = fw.merge(FeatureWindow(numeric=h))
    for bounds, (counts, total, lo, hi) in acc.explicit.items():
        fw = fw.merge(FeatureWindow(numeric=_fixed(bounds, counts, total, lo, hi)))
    return fw
