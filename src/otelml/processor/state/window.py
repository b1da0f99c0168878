"""The shared data types of the processor: series identity, one window's data, an update.

A :class:`FeatureWindow` holds everything one series saw in one resolution window, in
otelml.stats sketches, and merges with another. :mod:`otelml.processor.state.aggregator` keeps
them; the evaluator, API and exporters read them (also importable from
``otelml.processor.state.aggregator``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

import numpy as np

from otelml import semconv

if TYPE_CHECKING:
    from otelml.stats.categorical import CategoryCounts
    from otelml.stats.exponential import ExponentialHistogram
    from otelml.stats.histogram import FixedHistogram

    NumericSketch: TypeAlias = FixedHistogram | ExponentialHistogram

PREDICTION_FEATURE = "__prediction__"
"""Feature name of the series that carries a model's output distribution and row count."""

OVERFLOW = semconv.OVERFLOW_VALUE
_OTHER = semconv.OTHER_CATEGORY

_FORMAT = 1

MAX_COUNT = 2**53
"""The largest count a point may carry, and any series may sum to.

Above it a count is no longer exact in the float64 that Prometheus keeps, no real stream reaches
it (2**53 predictions is 285 years at a million a second), and refusing it keeps every sum of
counts far from int64's limit, so that no merge can wrap."""


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """Identity of one aggregated series; ``segment`` ``""`` means all rows of the model."""

    model: str
    version: str
    environment: str
    feature: str
    segment: str = ""

    def __iter__(self) -> Iterator[str]:
        """Yield the five fields in order (``tuple(key)``, ``SeriesKey(*row)``)."""
        return iter((self.model, self.version, self.environment, self.feature, self.segment))

    @property
    def model_key(self) -> tuple[str, str, str]:
        """Return ``(model, version, environment)``."""
        return (self.model, self.version, self.environment)


def _numeric_to_dict(h: NumericSketch) -> dict[str, Any]:
    from otelml.stats.histogram import FixedHistogram

    # Tag with our own kind name so that the stored form does not depend on the sketches' own
    # "type" spelling.
    kind = "fixed" if isinstance(h, FixedHistogram) else "exponential"
    return {"kind": kind, "data": h.to_dict()}


def _numeric_from_dict(d: Mapping[str, Any]) -> NumericSketch:
    from otelml.stats.exponential import ExponentialHistogram
    from otelml.stats.histogram import FixedHistogram

    if d["kind"] == "fixed":
        return FixedHistogram.from_dict(d["data"])
    if d["kind"] == "exponential":
        return ExponentialHistogram.from_dict(d["data"])
    raise ValueError(f"unknown numeric sketch kind {d['kind']!r}")


def _try_merge(a: NumericSketch, b: NumericSketch) -> NumericSketch | None:
    """Return ``a`` merged with ``b``, or None when their bucket layouts cannot merge."""
    if type(a) is not type(b):
        return None
    try:
        return a.merge(b)  # type: ignore[arg-type]
    except ValueError:  # explicit bounds differ
        return None


@dataclass(slots=True)
class FeatureWindow:
    """Everything one series saw in one window (or a merge of windows); mergeable.

    ``numeric`` is the series' histogram. Explicit-bucket histograms merge only on identical
    edges, and exponential ones do not merge with explicit ones, so a series whose bucket layout
    changed inside the merged range (an app that picked up a baseline, or two replicas on
    different baselines) keeps the other layouts in ``numeric_extra``; readers re-project them
    (``numeric_parts()`` yields all of them).

    ``rows`` counts observations: for a feature, finite values + category occurrences + missing
    + invalid; for :data:`PREDICTION_FEATURE`, predicted rows (``ml.prediction.count`` or spans'
    batch sizes).

    Windows returned by the :class:`Aggregator` may be the stored objects themselves: treat
    them (and their sketches) as read-only; ``merge`` returns new objects.
    """

    numeric: NumericSketch | None = None
    categories: CategoryCounts | None = None
    missing: int = 0
    invalid: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    numeric_extra: tuple[NumericSketch, ...] = ()

    def numeric_parts(self) -> Iterator[NumericSketch]:
        """Yield every numeric histogram of this window (the main one first)."""
        if self.numeric is not None:
            yield self.numeric
        yield from self.numeric_extra

    @property
    def is_empty(self) -> bool:
        """Return whether the window holds no observation at all."""
        return (
            self.rows == 0
            and self.missing == 0
            and not self.invalid
            and self.numeric is None
            and self.categories is None
            and not self.numeric_extra
        )

    def largest_count(self) -> int:
        """Return the largest count this window holds (rows, missing, invalid or a sketch's)."""
        counts = [self.rows, self.missing, sum(self.invalid.values())]
        counts += [part.count for part in self.numeric_parts()]
        if self.categories is not None:
            counts.append(self.categories.count)
        return max(counts)

    def merge(self, other: FeatureWindow) -> FeatureWindow:
        """Return a new window holding both; neither input changes."""
        numeric, extra = self.numeric, list(self.numeric_extra)
        for part in other.numeric_parts():
            numeric, extra = _add_numeric(numeric, extra, part)
        if self.categories is None:
            categories = other.categories
        elif other.categories is None:
            categories = self.categories
        else:
            categories = self.categories.merge(other.categories)
        invalid = dict(self.invalid)
        for issue, n in other.invalid.items():
            invalid[issue] = invalid.get(issue, 0) + n
        return FeatureWindow(
            numeric=numeric,
            categories=categories,
            missing=self.missing + other.missing,
            invalid=invalid,
            rows=self.rows + other.rows,
            numeric_extra=tuple(extra),
        )

    __add__ = merge

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``from_dict`` reverses it)."""
        return {
            "format": _FORMAT,
            "numeric": None if self.numeric is None else _numeric_to_dict(self.numeric),
            "numeric_extra": [_numeric_to_dict(h) for h in self.numeric_extra],
            "categories": None if self.categories is None else self.categories.to_dict(),
            "missing": self.missing,
            "invalid": dict(self.invalid),
            "rows": self.rows,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureWindow:
        """Return the window that ``to_dict`` described."""
        if d.get("format") != _FORMAT:
            raise ValueError(f"unsupported FeatureWindow format {d.get('format')!r}")
        categories = None
        if d.get("categories") is not None:
            from otelml.stats.categorical import CategoryCounts

            categories = CategoryCounts.from_dict(d["categories"])
        return cls(
            numeric=None if d.get("numeric") is None else _numeric_from_dict(d["numeric"]),
            categories=categories,
            missing=int(d.get("missing", 0)),
            invalid={str(k): int(v) for k, v in d.get("invalid", {}).items()},
            rows=int(d.get("rows", 0)),
            numeric_extra=tuple(_numeric_from_dict(x) for x in d.get("numeric_extra", ())),
        )


def _add_numeric(
    numeric: NumericSketch | None, extra: list[NumericSketch], part: NumericSketch
) -> tuple[NumericSketch | None, list[NumericSketch]]:
    if numeric is None:
        return part, extra
    merged = _try_merge(numeric, part)
    if merged is not None:
        return merged, extra
    for i, other in enumerate(extra):
        merged = _try_merge(other, part)
        if merged is not None:
            return numeric, [*extra[:i], merged, *extra[i + 1 :]]
    return numeric, [*extra, part]


def merge_windows(windows: Iterable[FeatureWindow]) -> FeatureWindow:
    """Return the windows merged, equal to folding them with :meth:`FeatureWindow.merge`.

    The fold costs a sketch copy per window; this sums each bucket layout's counts in one numpy
    step, the categories in one pass and the scalars in one loop instead. Float sums are added
    in the fold's order so that results stay bit-for-bit equal. A single window is returned
    as is (read-only, like the fold's result).
    """
    ws = list(windows)
    if not ws:
        raise ValueError("windows: need at least one window")
    if len(ws) == 1:
        return ws[0]
    fixed = _fixed_type()
    first = ws[0]
    # Slots in the fold's order: the first window's parts, then each part that merged with
    # none of them. Explicit-bucket parts are only collected here and summed at the end;
    # ``by_edges`` finds their slot by the edges' bytes (checked with merge's own test once).
    slots: list[list[NumericSketch]] = []
    by_edges: dict[bytes, int] = {}
    for part in first.numeric_parts():
        if type(part) is fixed:
            key = part.edges.tobytes()
            if key not in by_edges:
                by_edges[key] = _first_fixed(slots, part)
        slots.append([part])
    cats: list[CategoryCounts] = [] if first.categories is None else [first.categories]
    invalid = dict(first.invalid)
    missing, rows = first.missing, first.rows
    for w in ws[1:]:
        h = w.numeric
        if h is not None:
            if type(h) is fixed:
                key = h.edges.tobytes()
                i = by_edges.get(key)
                if i is None:
                    i = by_edges[key] = _first_fixed(slots, h)
                if i < len(slots):
                    slots[i].append(h)
                else:
                    slots.append([h])
            else:
                _place(slots, by_edges, h)
            for part in w.numeric_extra:
                _place(slots, by_edges, part)
        if w.categories is not None:
            cats.append(w.categories)
        if w.invalid:
            for issue, n in w.invalid.items():
                invalid[issue] = invalid.get(issue, 0) + n
        missing += w.missing
        rows += w.rows
    merged = [_sum_fixed(s) if len(s) > 1 else s[0] for s in slots]
    return FeatureWindow(
        numeric=merged[0] if merged else None,
        categories=_merge_categories(cats),
        missing=missing,
        invalid=invalid,
        rows=rows,
        numeric_extra=tuple(merged[1:]),
    )


_FIXED: list[type[FixedHistogram]] = []


def _fixed_type() -> type[FixedHistogram]:
    # Imported on first use like the other stats imports of this module, then kept.
    if not _FIXED:
        from otelml.stats.histogram import FixedHistogram

        _FIXED.append(FixedHistogram)
    return _FIXED[0]


def _place(
    slots: list[list[NumericSketch]], by_edges: dict[bytes, int], part: NumericSketch
) -> None:
    """Put ``part`` into the first slot the fold would merge it with, or a new slot."""
    if type(part) is _fixed_type():
        key = part.edges.tobytes()
        i = by_edges.get(key)
        if i is None:
            i = by_edges[key] = _first_fixed(slots, part)
        if i < len(slots):
            slots[i].append(part)
        else:
            slots.append([part])
        return
    for slot in slots:
        if type(slot[0]) is not _fixed_type():
            merged = _try_merge(slot[0], part)
            if merged is not None:
                slot[0] = merged
                return
    slots.append([part])


def _first_fixed(slots: list[list[NumericSketch]], part: NumericSketch) -> int:
    """Return the first slot whose edges merge with ``part``'s (``len(slots)`` if none).

    Edges equal for merge can differ in bytes (-0.0 and 0.0), hence merge's own test here.
    """
    fixed = _fixed_type()
    for j, slot in enumerate(slots):
        if type(slot[0]) is fixed and np.array_equal(slot[0].edges, part.edges):  # type: ignore[union-attr]
            return j
    return len(slots)


def _sum_fixed(parts: list[NumericSketch]) -> NumericSketch:
    """Return explicit-bucket histograms on the same edges merged in one step."""
    first = parts[0]
    out = first.copy()
    out.counts = np.add.reduce(np.array([p.counts for p in parts]), axis=0)  # type: ignore[union-attr]
    total = first.sum
    nan, posinf, neginf = first.nan_count, first.posinf_count, first.neginf_count
    for p in parts[1:]:
        total += p.sum  # in the fold's order: float addition is not associative
        nan += p.nan_count
        posinf += p.posinf_count
        neginf += p.neginf_count
    out.sum = total
    # Empty histograms have NaN min/max, which merge skips (np.fmin / np.fmax).
    lows = [p.min for p in parts if p.min == p.min]
    highs = [p.max for p in parts if p.max == p.max]
    out.min = float(min(lows)) if lows else math.nan
    out.max = float(max(highs)) if highs else math.nan
    out.nan_count, out.posinf_count, out.neginf_count = nan, posinf, neginf
    return out


def _merge_categories(cats: list[CategoryCounts]) -> CategoryCounts | None:
    if not cats:
        return None
    if len(cats) == 1:
        return cats[0]
    from otelml.stats.categorical import CategoryCounts

    cap = min(c.cap for c in cats)
    tally: dict[str, int] = {}
    for c in cats:
        for k, n in c.counts.items():
            if k != _OTHER:
                tally[k] = tally.get(k, 0) + n
    if len(tally) > cap:
        # Beyond the cap, which categories stay kept depends on the merge order: fold.
        acc = cats[0]
        for c in cats[1:]:
            acc = acc.merge(c)
        return acc
    out = CategoryCounts(cap)
    # Within the cap nothing is folded into "__other__": the counts simply add up.
    out.update_counts(tally)
    out.overflow_count = sum(c.overflow_count for c in cats)
    out.missing_count = sum(c.missing_count for c in cats)
    return out


class Update(NamedTuple):
    """One durable change: ``delta`` is added to ``key``'s window starting at ``window_start``."""

    key: SeriesKey
    window_start: int
    delta: FeatureWindow
