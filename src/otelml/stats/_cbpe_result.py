"""CBPE's results: estimated metrics with standard errors, and their divergence from realised."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

FORMAT_VERSION = 1
"""Version of the ``to_dict`` layout of CBPE results and estimators."""

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CBPEResult:
    """Estimated metrics of one window, their standard errors and the expected confusion matrix.

    ``std_errors`` is the standard deviation of the realised metric around the estimate when
    the calibration holds (Poisson-binomial variance of the expected counts, delta method for
    ratios; Hanley-McNeil for ROC AUC, which is conservative). Undefined metrics are nan.
    ``details`` holds ``roc_auc_binning_bound``: half the expected share of positive-negative
    pairs sharing a score group (a histogram bin, or tied raw scores), the most by which
    ranking within groups could move the ROC AUC estimate.
    """

    n: int
    estimates: Mapping[str, float]
    std_errors: Mapping[str, float]
    confusion: Mapping[str, float]
    details: Mapping[str, float] = field(default_factory=dict)

    def interval(self, metric: str, z: float = 3.0) -> tuple[float, float]:
        """Return the band estimate ± z standard errors, clipped to [0, 1]."""
        est, se = self.estimates[metric], self.std_errors[metric]
        return max(0.0, est - z * se), min(1.0, est + z * se)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "format": FORMAT_VERSION,
            "type": "cbpe_result",
            "n": self.n,
            "estimates": dict(self.estimates),
            "std_errors": dict(self.std_errors),
            "confusion": dict(self.confusion),
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class DivergenceResult:
    """Realised vs estimated performance: ``flagged`` when any metric leaves its bound."""

    flagged: bool
    metrics: tuple[str, ...]
    differences: Mapping[str, float]
    bounds: Mapping[str, float]


def divergence(
    estimated: CBPEResult,
    realised: Mapping[str, float],
    n: int | None = None,
    *,
    k: float = 3.0,
    floor: float = 0.02,
) -> DivergenceResult:
    """Flag metrics whose realised value differs from the CBPE estimate by more than the bound.

    The bound is ``k`` standard errors plus ``floor``: the standard errors cover the sampling
    of labels under a calibration that holds; ``floor`` absorbs the calibration's own error
    (finite reference, isotonic fit). ``n`` is the number of labelled rows behind
    ``realised`` (default: the whole window); with fewer, the standard error grows by
    sqrt(window / n). Metrics nan in either are skipped.
    """
    if n is not None and n <= 0:
        raise ValueError(f"n: must be positive, got {n}")
    scale = math.sqrt(estimated.n / n) if n is not None and estimated.n > 0 else 1.0
    diffs: dict[str, float] = {}
    bounds: dict[str, float] = {}
    for name, est in estimated.estimates.items():
        if name not in realised:
            continue
        real, se = float(realised[name]), estimated.std_errors.get(name, math.nan)
        if not (math.isfinite(real) and math.isfinite(est) and math.isfinite(se)):
            continue
        diffs[name] = real - est
        bounds[name] = k * se * scale + floor
    flagged = tuple(m for m in diffs if abs(diffs[m]) > bounds[m])
    return DivergenceResult(bool(flagged), flagged, diffs, bounds)


def ratio(num: float, den: float) -> float:
    """Return ``num / den``, or NaN when the denominator is not positive (undefined metric)."""
    return num / den if den > 0 else math.nan


def estimate_from_units(
    count: FloatArray,
    prob: FloatArray,
    var: FloatArray,
    predicted: NDArray[np.bool_],
    group: NDArray[np.int64],
) -> CBPEResult:
    """Return the estimate from units (rows or sub-bins) with count, mean probability, variance.

    ``group`` orders the units by score (ascending); units of one group are ties.
    """
    n = float(count.sum())
    pos, neg = count * prob, count * (1.0 - prob)
    tp, fp = float(pos[predicted].sum()), float(neg[predicted].sum())
    fn, tn = float(pos[~predicted].sum()), float(neg[~predicted].sum())
    v1, v0 = float(var[predicted].sum()), float(var[~predicted].sum())
    npp = tp + fp
    d_f1 = npp + tp + fn
    est = {
        "accuracy": ratio(tp + tn, n),
        "precision": ratio(tp, npp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(2.0 * tp, d_f1),
    }
    se = {
        "accuracy": ratio(math.sqrt(v1 + v0), n),
        "precision": ratio(math.sqrt(v1), npp),
        "recall": ratio(math.sqrt(fn * fn * v1 + tp * tp * v0), (tp + fn) ** 2),
        "f1": ratio(math.sqrt((2 * (npp + fn)) ** 2 * v1 + (2 * tp) ** 2 * v0), d_f1**2),
    }
    n_groups = int(group.max()) + 1 if group.size else 0
    w_pos = np.bincount(group, pos, n_groups)
    w_neg = np.bincount(group, neg, n_groups)
    n_pos, n_neg = float(w_pos.sum()), float(w_neg.sum())
    if n_pos > 0 and n_neg > 0:
        below = np.cumsum(w_neg) - w_neg
        auc = float(np.dot(w_pos, below + 0.5 * w_neg) / (n_pos * n_neg))
        q1, q2 = auc / (2.0 - auc), 2.0 * auc * auc / (1.0 + auc)
        hm = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
            n_pos * n_neg
        )
        est["roc_auc"], se["roc_auc"] = auc, math.sqrt(max(hm, 0.0))
        bound = 0.5 * float(np.dot(w_pos, w_neg)) / (n_pos * n_neg)
    else:
        est["roc_auc"], se["roc_auc"], bound = math.nan, math.nan, math.nan
    confusion = {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    return CBPEResult(round(n), est, se, confusion, {"roc_auc_binning_bound": bound})
