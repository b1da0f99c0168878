"""What an evaluation produces: result records, status coding, and bin labels and shares.

Kept apart from :mod:`otelml.processor.evaluate.evaluator` (which computes them) so that exporters
and the API depend on the records only; the evaluator re-exports every name here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from otelml.stats.baseline import FeatureBaseline
from otelml.stats.categorical import CategoryCounts
from otelml.stats.drift import DriftResult
from otelml.stats.histogram import FixedHistogram

Reference = Literal["auto", "baseline", "previous_window"]
REFERENCES: tuple[str, ...] = ("auto", "baseline", "previous_window")

STATUS_CODES: dict[str, int] = {"ok": 0, "warning": 1, "drift": 2, "insufficient_data": -1}
"""Numeric coding of statuses in the exported gauges."""

QUALITY_ISSUES: tuple[str, ...] = (
    "missing",
    "nan",
    "inf",
    "type_mismatch",
    "out_of_range",
    "new_category",
    "missing_feature",
)
"""Values of the ``issue`` label of the quality ratios. ``missing_feature`` is 1 for a baseline
feature of which the window holds nothing at all while the model has data (renamed or dropped
upstream), 0 otherwise."""

ModelKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class BinShare:
    """One bin of a feature: its label, upper edge, and the current and reference shares."""

    bin: str
    le: str
    current: float
    reference: float


@dataclass(frozen=True, slots=True)
class BinShares:
    """A feature's bins as parallel tuples (cheap to build for thousands of features).

    Indexing and iteration give :class:`BinShare` objects.
    """

    labels: tuple[str, ...] = ()
    les: tuple[str, ...] = ()
    current: tuple[float, ...] = ()
    reference: tuple[float, ...] = ()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> BinShare:
        return BinShare(self.labels[i], self.les[i], self.current[i], self.reference[i])

    def __iter__(self) -> Iterator[BinShare]:
        return (self[i] for i in range(len(self.labels)))


@dataclass(frozen=True, slots=True)
class FeatureEvaluation:
    """Drift and quality of one (feature, segment) series in one evaluation."""

    feature: str
    segment: str
    kind: str
    status: str
    drift: DriftResult | None
    importance: float | None
    weighted_score: float
    quality: Mapping[str, float]
    reference_quality: Mapping[str, float]
    quality_status: str
    """``ok``, ``warning``, ``alert`` or ``insufficient_data`` (otelml.stats.quality)."""
    bins: BinShares
    rows: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (no NaN: absent figures are null)."""
        d = self.drift
        return {
            "feature": self.feature,
            "segment": self.segment,
            "kind": self.kind,
            "status": self.status,
            "method": None if d is None else d.method,
            "statistic": None if d is None else finite(d.statistic),
            "p_value": None if d is None or d.p_value is None else finite(d.p_value),
            "effect_size": None if d is None else finite(d.effect_size),
            "n_reference": None if d is None else d.n_ref,
            "n_current": None if d is None else d.n_cur,
            "importance": finite(self.importance),
            "weighted_score": finite(self.weighted_score),
            "rows": self.rows,
            "quality": {k: finite(v) for k, v in self.quality.items()},
            "reference_quality": {k: finite(v) for k, v in self.reference_quality.items()},
            "quality_status": self.quality_status,
        }


@dataclass(frozen=True, slots=True)
class ModelEvaluation:
    """One evaluation of a (model, version, environment)."""

    model: str
    version: str
    environment: str
    evaluated_at: float
    window_start: float
    window_end: float
    reference: str
    """``baseline``, ``previous_window`` or ``none``."""
    baseline_version: str | None
    fallback: bool
    status: str
    features: tuple[FeatureEvaluation, ...]
    """Segment ``""`` features, ranked: most (importance-weighted) drift first."""
    segments: tuple[FeatureEvaluation, ...]
    prediction: tuple[FeatureEvaluation, ...]
    """The prediction series, segment ``""`` first."""
    rows: int
    features_drifted: int

    @property
    def key(self) -> ModelKey:
        """Return ``(model, version, environment)``."""
        return (self.model, self.version, self.environment)


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """A series' drift figures at one evaluation."""

    time: float
    status: str
    method: str | None
    statistic: float | None
    p_value: float | None
    effect_size: float | None
    rows: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "time": self.time,
            "status": self.status,
            "method": self.method,
            "statistic": finite(self.statistic),
            "p_value": finite(self.p_value),
            "effect_size": finite(self.effect_size),
            "rows": self.rows,
        }


def finite(x: float | None) -> float | None:
    """Return ``x`` as a float, or None when absent or not finite (JSON has no NaN)."""
    return None if x is None or not math.isfinite(x) else float(x)


def worst_status(statuses: list[str]) -> str:
    """Return the most severe status; ``insufficient_data`` only when nothing was decided."""
    decided = [STATUS_CODES[s] for s in statuses if STATUS_CODES.get(s, -1) >= 0]
    if not decided:
        return "insufficient_data"
    return {0: "ok", 1: "warning", 2: "drift"}[max(decided)]


def format_le(edge: float) -> str:
    """Return a bin's upper edge as the Prometheus ``le`` label writes it (Go float format)."""
    if math.isinf(edge):
        return "+Inf" if edge > 0 else "-Inf"
    return repr(float(edge))


@functools.lru_cache(maxsize=4096)
def numeric_labels(edges: tuple[float, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the bin indices and ``le`` labels of ``edges`` (cached: edges repeat)."""
    les = (*(format_le(e) for e in edges), "+Inf")
    return tuple(str(i) for i in range(len(les))), les


def _shares(counts: npt.NDArray[np.float64]) -> tuple[float, ...]:
    total = counts.sum()
    return tuple((counts / total).tolist()) if total > 0 else tuple(counts.tolist())


def bin_shares(
    ref: FeatureBaseline | None, sketch: FixedHistogram | CategoryCounts | None
) -> BinShares:
    """Return the current and reference shares on the reference's bins (or categories)."""
    if ref is None or sketch is None:
        return BinShares()
    if isinstance(sketch, FixedHistogram):
        cur = sketch.counts.astype(np.float64)
        base = np.asarray(ref.ref_counts, dtype=np.float64)
        if base.shape != cur.shape:
            return BinShares()
        labels, les = numeric_labels(ref.edges)
        return BinShares(labels, les, _shares(cur), _shares(base))
    cur_counts = sketch.counts
    cats = (*ref.categories, *sorted(c for c in cur_counts if c not in ref.categories))
    c = np.asarray([cur_counts.get(k, 0) for k in cats], dtype=np.float64)
    r = np.asarray([ref.categories.get(k, 0) for k in cats], dtype=np.float64)
    return BinShares(cats, ("",) * len(cats), _shares(c), _shares(r))
