"""The shared data types of the processor: series identity, one window's data, an update.

A :class:`FeatureWindow` holds everything one series saw in one resolution window, in
otelml.stats sketches, and merges with another. :mod:`otelml.processor.state` keeps them; the
evaluator, API and exporters read them (also importable from ``otelml.processor.state``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from otelml import semconv

if TYPE_CHECKING:
    from otelml.stats.categorical import CategoryCounts
    from otelml.stats.exponential import ExponentialHistogram
    from otelml.stats.histogram import FixedHistogram

    NumericSketch: TypeAlias = FixedHistogram | ExponentialHistogram

PREDICTION_FEATURE = "__prediction__"
"""Feature name of the series that carries a model's output distribution and row count."""

OVERFLOW = semconv.OVERFLOW_VALUE

_FORMAT = 1


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


class Update(NamedTuple):
    """One durable change: ``delta`` is added to ``key``'s window starting at ``window_start``."""

    key: SeriesKey
    window_start: int
    delta: FeatureWindow
