"""Data quality of a window from its sketches, each issue's rate compared with the baseline's.

Issues: ``missing`` (absent / None), ``nan``, ``inf``, ``type_mismatch`` (a value of the wrong
type, counted by the instrumentation), ``out_of_range`` (numeric: below the baseline's minimum
or above its maximum) and ``new_category`` (categorical: a category the baseline never saw).
Every rate has the window's rows as denominator: finite (or non-missing) values plus all of the
above that are not values. An issue is flagged only when its rate rose by a practical margin
*and* the rise is significant (one-sided binomial test against the baseline's rate), so a
window of 100 rows does not alarm on noise and a window of a million does not alarm on a
0.01-point wobble. Thresholds: :class:`QualityPolicy`, explained in ``docs/drift.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

import numpy as np
from scipy import special

from otelml.stats.baseline import FeatureBaseline
from otelml.stats.categorical import CategoryCounts
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram

QualityStatus = Literal["ok", "warning", "alert", "insufficient_data"]
ISSUES: Final[tuple[str, ...]] = (
    "missing",
    "nan",
    "inf",
    "type_mismatch",
    "out_of_range",
    "new_category",
)
_SEVERITY: Final = {"insufficient_data": 0, "ok": 1, "warning": 2, "alert": 3}


@dataclass(frozen=True)
class QualityPolicy:
    """Thresholds of the quality statuses (rates are shares of the window's rows).

    ``"alert"`` when the rate exceeds the baseline's by ``alert_increase`` or more,
    ``"warning"`` by ``warning_increase`` or more, in both cases only if a one-sided binomial
    test of the count against the baseline rate gives p < ``alpha``; fewer than ``min_rows``
    rows give ``"insufficient_data"``.
    """

    warning_increase: float = 0.01
    alert_increase: float = 0.05
    alpha: float = 0.01
    min_rows: int = 100

    def validate(self) -> list[str]:
        """Return every problem with this policy, each prefixed by its field (empty when fine)."""
        errors = []
        if not 0 <= self.warning_increase <= self.alert_increase <= 1:
            errors.append("warning_increase, alert_increase: need 0 <= warning <= alert <= 1")
        if not 0 < self.alpha < 1:
            errors.append(f"alpha: must be in (0, 1), got {self.alpha!r}")
        if self.min_rows < 1:
            errors.append(f"min_rows: must be >= 1, got {self.min_rows!r}")
        return errors


@dataclass(frozen=True)
class QualityIssue:
    """One issue of one window: current and baseline rates, the status and its p-value."""

    issue: str
    count: float
    current_rate: float
    baseline_rate: float
    status: QualityStatus
    p_value: float | None
    details: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class QualityReport:
    """Data quality of one feature in one window: every issue and the worst status."""

    feature: str
    rows: int
    issues: Mapping[str, QualityIssue]

    @property
    def status(self) -> QualityStatus:
        """Return the worst issue status (``insufficient_data`` when nothing was decided)."""
        worst: QualityStatus = "insufficient_data"
        for issue in self.issues.values():
            if _SEVERITY[issue.status] > _SEVERITY[worst]:
                worst = issue.status
        return worst

    def rates(self) -> dict[str, float]:
        """Return ``{issue: current_rate}`` (for ``otelml_feature_quality_ratio``)."""
        return {k: v.current_rate for k, v in self.issues.items()}


def _status(
    count: float, rows: int, base: float, policy: QualityPolicy
) -> tuple[QualityStatus, float | None]:
    if rows < policy.min_rows:
        return "insufficient_data", None
    rate = count / rows
    k = round(count)
    base = min(max(base, 0.0), 1.0)
    # P(X >= k) for X ~ Binomial(rows, base); bdtrc(k - 1, n, p) is that upper tail.
    p = 1.0 if k <= 0 else float(special.bdtrc(k - 1, rows, base)) if base < 1 else 1.0
    if p >= policy.alpha:
        return "ok", p
    if rate - base >= policy.alert_increase:
        return "alert", p
    if rate - base >= policy.warning_increase:
        return "warning", p
    return "ok", p


def _out_of_range(
    baseline: FeatureBaseline, current: FixedHistogram | ExponentialHistogram
) -> tuple[float, float]:
    """Return (estimate, upper bound) of the current values outside ``[min, max]``."""
    lo, hi = baseline.min, baseline.max
    if not (math.isfinite(lo) and math.isfinite(hi)) or current.count == 0:
        return 0.0, 0.0
    if isinstance(current, ExponentialHistogram):
        # Fine buckets: project onto (-inf, min-) (min-, max] (max, inf); the projection
        # error bound caps how many of them sit on the wrong side.
        edges = np.array([np.nextafter(lo, -np.inf), hi]) if hi > lo else np.array([hi])
        c = current.project(edges).counts
        est = float(c[0] + c[-1]) if hi > lo else float(c[-1])
        return est, est + current.projection_error_bound(edges)
    # Baseline bins: a bin is wholly out of range when it lies below min or above max; the
    # open bins straddle min / max, so only the window's own min / max can tell (at least 1).
    e = current.edges
    c = current.counts
    below = np.r_[e < lo, False]  # bin i's upper edge e_i < min
    above = np.r_[False, e >= hi]  # bin i's lower edge e_{i-1} >= max
    certain = float(c[below | above].sum())
    straddle_lo = float(c[~below][0]) if current.min < lo else 0.0
    straddle_hi = float(c[~above][-1]) if current.max > hi else 0.0
    est = certain
    if certain == 0:  # bins cannot say more than "at least one value"
        est = float(current.min < lo) + float(current.max > hi)
    return float(est), certain + straddle_lo + straddle_hi


Sketch = FixedHistogram | ExponentialHistogram | CategoryCounts


def quality_report(
    baseline: FeatureBaseline,
    current: Sketch,
    *,
    missing: int | None = None,
    type_mismatch: int = 0,
    policy: QualityPolicy | None = None,
) -> QualityReport:
    """Return the :class:`QualityReport` of ``current`` against ``baseline``.

    Parameters
    ----------
    baseline
        The feature's frozen baseline (its ``missing_rate``, ``nan_rate``, ``inf_rate``).
    current
        The window's sketch: NaN and inf counts come from a histogram, missing values from
        :class:`CategoryCounts` (``missing_count``).
    missing, type_mismatch
        The window's ``ml.feature.missing`` and ``ml.feature.invalid{type_mismatch}`` counts
        (``missing=None`` takes the sketch's ``missing_count`` when it has one, else 0).
    policy
        Thresholds; :class:`QualityPolicy` defaults.
    """
    policy = QualityPolicy() if policy is None else policy
    errors = policy.validate()
    if errors:
        raise ValueError("policy: " + "; ".join(errors))
    if missing is None:
        missing = int(getattr(current, "missing_count", 0))
    if missing < 0 or type_mismatch < 0:
        raise ValueError("missing and type_mismatch must be non-negative")
    counts: dict[str, float] = {"missing": missing, "type_mismatch": type_mismatch}
    details: dict[str, dict[str, float]] = {}
    if isinstance(current, CategoryCounts):
        if baseline.kind != "categorical":
            raise ValueError(f"current: feature {baseline.name!r} is numeric, got CategoryCounts")
        values = current.count
        known = {c for c, n in baseline.categories.items() if n > 0}
        counts["new_category"] = float(sum(n for c, n in current.counts.items() if c not in known))
    else:
        if baseline.kind != "numeric":
            raise ValueError(f"current: feature {baseline.name!r} is categorical, got a histogram")
        values = current.count
        counts["nan"] = current.nan_count
        counts["inf"] = current.posinf_count + current.neginf_count
        est, upper = _out_of_range(baseline, current)
        counts["out_of_range"] = est
        details["out_of_range"] = {"upper_bound": upper}
    rows = int(values + sum(counts.get(k, 0) for k in ("missing", "type_mismatch", "nan", "inf")))
    base = {
        "missing": baseline.missing_rate,
        "nan": baseline.nan_rate,
        "inf": baseline.inf_rate,
        "type_mismatch": float(getattr(baseline, "type_mismatch_rate", 0.0)),
        "out_of_range": 0.0,
        "new_category": 0.0,
    }
    issues = {}
    for issue in ISSUES:
        if issue not in counts:
            continue
        n = float(counts[issue])
        status, p = _status(n, rows, base[issue], policy)
        extra = details.get(issue, {})
        if rows and extra:
            extra = {k: v / rows for k, v in extra.items()}
        issues[issue] = QualityIssue(
            issue,
            n,
            n / rows if rows else 0.0,
            base[issue],
            status,
            p,
            MappingProxyType(extra),
        )
    return QualityReport(baseline.name, rows, MappingProxyType(issues))
