"""Mergeable model-performance state: confusion counts, score histograms, loss and error sums.

Every class here follows the sketch conventions of ``otelml.stats``: ``update`` /
``update_many``, ``merge`` (also ``+``; returns a new object and never mutates either input),
``copy``, an empty default state, ``to_dict`` / ``from_dict`` (keys ``"format"`` and
``"type"``), ``__eq__`` and ``count``. Metrics are derived from the state on demand, so the
processor can keep one state per window and per replica and sum them.

Reference behaviour is scikit-learn's on the same rows:

- count-based metrics (:class:`ConfusionCounts`) are bit-for-bit equal;
- sum-based metrics (:class:`ProbabilisticSums`, :class:`RegressionSums`) are equal up to
  floating-point summation order (relative error ~1e-15 per merge);
- ranking metrics (:class:`ScoreHistograms`) are exact for the binned scores and within
  :meth:`ScoreHistograms.roc_auc_bound` of the raw-score ROC AUC.

The states live in private modules (``_confusion``, ``_scores``, ``_sums``) and are imported
from here; this module adds the facade that names and compares metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otelml.stats._confusion import ConfusionCounts
from otelml.stats._confusion import Label as Label
from otelml.stats._perf_common import FORMAT_VERSION as FORMAT_VERSION
from otelml.stats._scores import ScoreHistograms
from otelml.stats._scores import default_score_edges as default_score_edges
from otelml.stats._sums import ProbabilisticSums, RegressionSums

__all__ = [
    "ConfusionCounts",
    "PerformanceComparison",
    "ProbabilisticSums",
    "RegressionSums",
    "ScoreHistograms",
    "compare_performance",
    "performance_metrics",
]


_State = ConfusionCounts | ScoreHistograms | ProbabilisticSums | RegressionSums

#: Metrics where a lower value is better; every other named metric is higher-is-better.
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "mae", "mse", "rmse", "mape"})
#: Bounded metrics in [0, 1] compared by absolute difference; others by relative difference.
BOUNDED = frozenset(
    {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "average_precision",
        "brier",
        *(
            f"{m}_{a}"
            for m in ("precision", "recall", "f1")
            for a in ("macro", "micro", "weighted")
        ),
    }
)
#: Default tolerance: a bounded metric may be 0.05 worse (absolute); an error metric 10% worse.
DEFAULT_ABS_TOLERANCE = 0.05
DEFAULT_REL_TOLERANCE = 0.10


def performance_metrics(*states: _State, positive: Any = None) -> dict[str, float]:
    """Return one dict of named metrics from any mix of performance states.

    ``positive`` adds the binary ``precision`` / ``recall`` / ``f1`` of that label from a
    :class:`ConfusionCounts`. ``roc_auc_bound`` is informative and never compared.
    """
    out: dict[str, float] = {}
    for s in states:
        if isinstance(s, ConfusionCounts):
            out.update(s.metrics(positive=positive))
        elif isinstance(s, (ScoreHistograms, ProbabilisticSums, RegressionSums)):
            out.update(s.metrics())
        else:
            raise TypeError(f"states: unsupported {type(s).__name__}")
    return out


@dataclass(frozen=True)
class PerformanceComparison:
    """Current vs reference performance: overall ``status`` and per-metric details."""

    status: str
    degraded: tuple[str, ...]
    differences: Mapping[str, float]
    statuses: Mapping[str, str]


def compare_performance(
    current: Mapping[str, float],
    reference: Mapping[str, float],
    *,
    abs_tolerance: float = DEFAULT_ABS_TOLERANCE,
    rel_tolerance: float = DEFAULT_REL_TOLERANCE,
    tolerances: Mapping[str, float] | None = None,
    count: int | None = None,
    min_count: int = 0,
) -> PerformanceComparison:
    """Return ``"ok"`` or ``"degraded"`` (or ``"insufficient_data"``) against a reference.

    A metric is degraded when it is worse than the reference by more than its tolerance:
    bounded [0, 1] metrics by an absolute ``abs_tolerance`` (default 0.05, e.g. accuracy
    0.91 -> 0.85), error metrics (MAE, RMSE, MAPE, log loss) by ``rel_tolerance`` of the
    reference (default 10%); R² by ``abs_tolerance``. ``tolerances`` overrides per metric.
    Only metrics present and finite in both are compared; ``differences`` is current minus
    reference. With ``count < min_count`` the status is ``"insufficient_data"``.
    """
    differences: dict[str, float] = {}
    statuses: dict[str, str] = {}
    for name in sorted(set(current) & set(reference)):
        cur, ref = float(current[name]), float(reference[name])
        if name == "roc_auc_bound" or not (math.isfinite(cur) and math.isfinite(ref)):
            continue
        diff = cur - ref
        worse = diff if name in LOWER_IS_BETTER else -diff
        if tolerances is not None and name in tolerances:
            tol = float(tolerances[name])
        elif name in LOWER_IS_BETTER and name not in BOUNDED:
            tol = rel_tolerance * abs(ref)
        else:
            tol = abs_tolerance
        differences[name] = diff
        statuses[name] = "degraded" if worse > tol else "ok"
    degraded = tuple(n for n, s in statuses.items() if s == "degraded")
    if count is not None and count < min_count:
        status = "insufficient_data"
    else:
        status = "degraded" if degraded else "ok"
    return PerformanceComparison(status, degraded, differences, statuses)
