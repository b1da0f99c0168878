"""Confidence-based performance estimation (CBPE) for binary classifiers, without labels.

Method (NannyML's CBPE, "how it works: performance estimation"): with calibrated
probabilities p_i = P(y_i = 1 | score_i) and the model's predicted labels ŷ_i, the expected
confusion matrix of a window is

    E[TP] = Σ_{ŷ=1} p_i,   E[FP] = Σ_{ŷ=1} (1 - p_i),
    E[FN] = Σ_{ŷ=0} p_i,   E[TN] = Σ_{ŷ=0} (1 - p_i)

and accuracy, precision, recall and F1 follow. ROC AUC is estimated from the expected ROC
curve: each row counts p_i as a positive and 1 - p_i as a negative at its score, which is the
expected Mann-Whitney statistic Σ_{i,j} p_i (1 - p_j) [s_i > s_j] (ties: 1/2) over
Σ p · Σ (1 - p). Rows are ranked by the raw score, as the realised AUC ranks them.

Scores are calibrated on labelled reference data by isotonic regression (pool adjacent
violators, numpy only; linear interpolation between block ends and clipping outside, as
sklearn's ``IsotonicRegression(out_of_bounds="clip")``). With ``calibrate="auto"`` the
estimator calibrates only when that lowers the expected calibration error on held-out
reference folds, as NannyML does.

The estimate is only valid while P(y | score) is the reference's: covariate shift is handled,
concept drift is not. :func:`divergence` flags windows where realised performance (once
labels arrive) leaves the estimate's confidence band.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from otelml.stats._calibration import calibration_helps, expected_calibration_error, isotonic_knots
from otelml.stats._cbpe_result import (
    FORMAT_VERSION as FORMAT_VERSION,
)
from otelml.stats._cbpe_result import (
    CBPEResult,
    DivergenceResult,
    divergence,
    estimate_from_units,
    ratio,
)
from otelml.stats.performance import ScoreHistograms

__all__ = [
    "CBPEEstimator",
    "CBPEResult",
    "DivergenceResult",
    "divergence",
    "expected_calibration_error",
]

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")

_FloatArray = NDArray[np.float64]


class _HistogramLike(Protocol):
    edges: Any
    counts: Any


# --------------------------------------------------------------------------- estimator


class CBPEEstimator:
    """CBPE for a binary classifier: calibration fitted on labelled reference, serialisable.

    Build with :meth:`fit`; store :meth:`to_dict` in the baseline; call :meth:`estimate` on a
    window's raw scores or score histogram. A row is predicted positive when its raw score
    is ``> threshold`` (strictly: with upper-inclusive bins, a threshold on a bin edge then
    splits the histogram exactly).
    """

    TYPE = "cbpe_estimator"

    def __init__(
        self,
        knots_x: ArrayLike,
        knots_y: ArrayLike,
        *,
        threshold: float = 0.5,
        calibrated: bool = True,
        score_range: tuple[float, float] = (0.0, 1.0),
        reference: Mapping[str, float] | None = None,
        n_reference: int = 0,
        ece: tuple[float, float] = (math.nan, math.nan),
    ) -> None:
        self.knots_x = np.asarray(knots_x, dtype=np.float64).ravel()
        self.knots_y = np.asarray(knots_y, dtype=np.float64).ravel()
        if self.knots_x.size == 0 or self.knots_x.shape != self.knots_y.shape:
            raise ValueError("knots_x, knots_y: need equally long, non-empty arrays")
        if (np.diff(self.knots_x) <= 0).any() or (np.diff(self.knots_y) < 0).any():
            raise ValueError("knots_x, knots_y: the calibration map must be non-decreasing")
        self.threshold = float(threshold)
        self.calibrated = bool(calibrated)
        self.score_range = (float(score_range[0]), float(score_range[1]))
        self.reference = dict(reference or {})
        self.n_reference = int(n_reference)
        self.ece = (float(ece[0]), float(ece[1]))
        # Cumulative integral of the map at its knots, for bin averages.
        seg = np.diff(self.knots_x) * (self.knots_y[1:] + self.knots_y[:-1]) / 2.0
        self._cum = np.concatenate([[0.0], np.cumsum(seg)])

    @classmethod
    def fit(
        cls,
        scores: ArrayLike,
        labels: ArrayLike,
        *,
        threshold: float = 0.5,
        calibrate: bool | Literal["auto"] = "auto",
        pos_label: Any = 1,
        seed: int = 0,
    ) -> CBPEEstimator:
        """Return an estimator calibrated on labelled reference ``scores``.

        ``calibrate="auto"`` fits isotonic calibration only when it lowers the mean held-out
        ECE (3 stratified 75/25 splits of the reference, 10 bins), and always when scores
        leave [0, 1]. The reference must hold both classes and be separate from the model's
        training data (a calibrator fitted on training scores is biased).
        """
        s = np.asarray(scores, dtype=np.float64).ravel()
        y = (np.asarray(labels).ravel() == pos_label).astype(np.float64)
        if s.shape != y.shape:
            raise ValueError(f"labels: length {y.size} differs from scores' {s.size}")
        if not np.isfinite(s).all():
            raise ValueError("scores: reference scores must be finite")
        if y.sum() == 0 or y.sum() == y.size:
            raise ValueError("labels: the reference needs both classes")
        in_unit = bool(s.min() >= 0.0 and s.max() <= 1.0)
        ece_raw, ece_cal = math.nan, math.nan
        if calibrate == "auto":
            do_cal, ece_raw, ece_cal = calibration_helps(s, y, seed)
            do_cal = do_cal or not in_unit
        else:
            do_cal = bool(calibrate) or not in_unit
        if do_cal:
            kx, ky = isotonic_knots(s, y)
        else:
            kx, ky = np.array([0.0, 1.0]), np.array([0.0, 1.0])
        predicted = s > threshold
        hist = ScoreHistograms(np.unique(s))
        hist.update_many(y, s)
        tp = float(y[predicted].sum())
        npp, n_pos = float(predicted.sum()), float(y.sum())
        reference = {
            "accuracy": float(np.mean(predicted == (y == 1.0))),
            "precision": ratio(tp, npp),
            "recall": ratio(tp, n_pos),
            "f1": ratio(2 * tp, npp + n_pos),
            "roc_auc": hist.roc_auc(),
        }
        return cls(
            kx,
            ky,
            threshold=threshold,
            calibrated=do_cal,
            score_range=(float(s.min()), float(s.max())),
            reference=reference,
            n_reference=int(s.size),
            ece=(ece_raw, ece_cal),
        )

    def probabilities(self, scores: ArrayLike) -> _FloatArray:
        """Return calibrated P(y = 1 | score)."""
        return np.interp(np.asarray(scores, dtype=np.float64), self.knots_x, self.knots_y)

    def _integral(self, x: _FloatArray) -> _FloatArray:
        kx, ky = self.knots_x, self.knots_y
        i = np.clip(np.searchsorted(kx, x, side="right") - 1, 0, kx.size - 1)
        inside = self._cum[i] + (x - kx[i]) * (ky[i] + self.probabilities(x)) / 2.0
        below = (x - kx[0]) * ky[0]
        above = self._cum[-1] + (x - kx[-1]) * ky[-1]
        out: _FloatArray = np.where(x < kx[0], below, np.where(x > kx[-1], above, inside))
        return out

    def mean_probability(self, lower: ArrayLike, upper: ArrayLike) -> _FloatArray:
        """Return the calibrated probability averaged over [lower, upper] (uniform scores)."""
        a = np.asarray(lower, dtype=np.float64)
        b = np.asarray(upper, dtype=np.float64)
        width = b - a
        safe = np.where(width > 0, width, 1.0)
        avg = (self._integral(b) - self._integral(a)) / safe
        out: _FloatArray = np.clip(np.where(width > 0, avg, self.probabilities(a)), 0.0, 1.0)
        return out

    def estimate(
        self, data: ArrayLike | _HistogramLike | ScoreHistograms, *, y_pred: ArrayLike | None = None
    ) -> CBPEResult:
        """Return the CBPE estimate for one window.

        ``data``: raw scores (1-D), a histogram with ``edges`` and ``counts`` (e.g.
        ``otelml.stats.FixedHistogram``), or a :class:`ScoreHistograms` (its labels are
        ignored). ``y_pred`` (raw scores only) overrides the predicted labels ``score >
        threshold`` with the model's own, as 0/1.
        """
        if isinstance(data, ScoreHistograms):
            return self.estimate_histogram(data.edges, data.positive + data.negative)
        if hasattr(data, "edges") and hasattr(data, "counts"):
            return self.estimate_histogram(data.edges, data.counts)
        s = np.asarray(data, dtype=np.float64).ravel()
        keep = ~np.isnan(s)
        if y_pred is None:
            predicted = s > self.threshold
        else:
            predicted = np.asarray(y_pred).ravel().astype(bool)
            if predicted.shape != s.shape:
                raise ValueError(f"y_pred: length {predicted.size} differs from data's {s.size}")
        s, predicted = s[keep], predicted[keep]
        p = self.probabilities(s)
        _, group = np.unique(s, return_inverse=True)
        return estimate_from_units(np.ones_like(p), p, p * (1.0 - p), predicted, group.ravel())

    def estimate_histogram(
        self, edges: ArrayLike, counts: ArrayLike, *, predicted_positive: ArrayLike | None = None
    ) -> CBPEResult:
        """Return the CBPE estimate from score counts on upper-inclusive bins.

        Scores are taken as uniform within a bin (outer bins reach the reference's score
        range); a bin straddling the threshold is split in proportion to its widths. The
        variance uses c·p̄(1-p̄) per bin, an upper bound of Σ p(1-p) (Jensen). Fine bins
        (e.g. 1000 over [0, 1]) keep the result within ~1e-3 of the raw-score estimate.

        ``predicted_positive``: per bin, how many of its predictions the model itself labelled
        positive (its own decision, whatever its threshold); without it a prediction is
        positive when its score is above ``threshold``.
        """
        e = np.asarray(edges, dtype=np.float64).ravel()
        c = np.asarray(counts, dtype=np.float64).ravel()
        if c.shape != (e.size + 1,):
            raise ValueError(f"counts: expected {e.size + 1} bins for {e.size} edges")
        lo = min(self.score_range[0], float(e[0]))
        hi = max(self.score_range[1], float(e[-1]))
        lower = np.concatenate([[lo], e])
        upper = np.concatenate([e, [hi]])
        if predicted_positive is not None:
            return self._estimate_own(lower, upper, c, predicted_positive)
        t = self.threshold
        frac_below = np.where(
            upper <= t,
            1.0,
            np.where(lower >= t, 0.0, (t - lower) / np.where(upper > lower, upper - lower, 1.0)),
        )
        # Each bin becomes up to two units: the part at or below the threshold, the part above.
        c_lo, c_hi = c * frac_below, c * (1.0 - frac_below)
        p_lo = self.mean_probability(lower, np.minimum(upper, np.maximum(lower, t)))
        p_hi = self.mean_probability(np.maximum(lower, np.minimum(upper, t)), upper)
        return _two_units_per_bin(c_lo, c_hi, p_lo, p_hi)

    def _estimate_own(
        self, lower: _FloatArray, upper: _FloatArray, c: _FloatArray, predicted_positive: ArrayLike
    ) -> CBPEResult:
        pp = np.asarray(predicted_positive, dtype=np.float64).ravel()
        if pp.shape != c.shape or (pp < 0).any() or (pp > c).any():
            raise ValueError("predicted_positive: expected one count per bin, within its counts")
        # Each bin becomes two units, its predictions the model called negative and positive,
        # both at the bin's mean calibrated probability.
        p_bin = self.mean_probability(lower, upper)
        return _two_units_per_bin(c - pp, pp, p_bin, p_bin)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (to live in the baseline)."""
        return {
            "format": FORMAT_VERSION,
            "type": self.TYPE,
            "knots_x": self.knots_x.tolist(),
            "knots_y": self.knots_y.tolist(),
            "threshold": self.threshold,
            "calibrated": self.calibrated,
            "score_range": list(self.score_range),
            "reference": dict(self.reference),
            "n_reference": self.n_reference,
            "ece": list(self.ece),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CBPEEstimator:
        """Rebuild an estimator written by :meth:`to_dict`."""
        if d.get("type") != cls.TYPE or d.get("format") != FORMAT_VERSION:
            raise ValueError(f"d: expected type {cls.TYPE!r} format {FORMAT_VERSION}")
        lo, hi = d["score_range"]
        ece_raw, ece_cal = d["ece"]
        return cls(
            d["knots_x"],
            d["knots_y"],
            threshold=d["threshold"],
            calibrated=d["calibrated"],
            score_range=(lo, hi),
            reference=d["reference"],
            n_reference=d["n_reference"],
            ece=(ece_raw, ece_cal),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CBPEEstimator):
            return NotImplemented
        return _nan_equal(self.to_dict(), other.to_dict())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"CBPEEstimator(threshold={self.threshold}, calibrated={self.calibrated}, "
            f"knots={self.knots_x.size}, n_reference={self.n_reference})"
        )


def _two_units_per_bin(
    c_neg: _FloatArray, c_pos: _FloatArray, p_neg: _FloatArray, p_pos: _FloatArray
) -> CBPEResult:
    """Return the estimate of bins split into a predicted-negative and a predicted-positive unit."""
    bins = np.arange(c_neg.size)
    count = np.concatenate([c_neg, c_pos])
    prob = np.concatenate([p_neg, p_pos])
    predicted = np.concatenate([np.zeros(c_neg.size, bool), np.ones(c_pos.size, bool)])
    used = count > 0
    return estimate_from_units(
        count[used],
        prob[used],
        (count * prob * (1.0 - prob))[used],
        predicted[used],
        np.concatenate([bins, bins])[used],
    )


def _nan_equal(a: Any, b: Any) -> bool:
    """Structural equality where nan equals nan (ECE is nan when not checked)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_nan_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_nan_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
