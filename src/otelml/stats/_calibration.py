"""Isotonic calibration of scores (pool adjacent violators) and the checks that decide on it."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def isotonic_knots(scores: FloatArray, labels: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the knots (x, y) of the non-decreasing least-squares fit of labels on scores."""
    x, inv = np.unique(scores, return_inverse=True)
    w = np.bincount(inv).astype(np.float64)
    wy = np.bincount(inv, weights=labels)
    # Pool adjacent violators over unique scores; a block is (sum w*y, sum w, length).
    sums: list[float] = []
    weights: list[float] = []
    lengths: list[int] = []
    for s_i, w_i in zip(wy.tolist(), w.tolist(), strict=True):
        sums.append(s_i)
        weights.append(w_i)
        lengths.append(1)
        while len(sums) > 1 and sums[-2] * weights[-1] >= sums[-1] * weights[-2]:
            s_last, w_last, n_last = sums.pop(), weights.pop(), lengths.pop()
            sums[-1] += s_last
            weights[-1] += w_last
            lengths[-1] += n_last
    y = np.repeat(np.array(sums) / np.array(weights), lengths)
    # Only the ends of each constant run matter for linear interpolation (sklearn keeps these).
    keep = np.ones(y.size, dtype=bool)
    if y.size > 2:
        keep[1:-1] = (y[1:-1] != y[:-2]) | (y[1:-1] != y[2:])
    return x[keep], y[keep]


def expected_calibration_error(
    probabilities: ArrayLike, labels: ArrayLike, bins: int = 10
) -> float:
    """Return the ECE: Σ_b share_b · |mean p_b - mean y_b| over equal-width bins of [0, 1]."""
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if p.size == 0:
        return math.nan
    idx = np.clip((p * bins).astype(np.int64), 0, bins - 1)
    n = np.bincount(idx, minlength=bins)
    gap = np.abs(np.bincount(idx, p, bins) - np.bincount(idx, y, bins))
    return float(gap.sum() / p.size) if n.sum() else math.nan


def calibration_helps(
    scores: FloatArray, labels: FloatArray, seed: int
) -> tuple[bool, float, float]:
    """Compare held-out ECE of raw and isotonic-calibrated scores over 3 stratified splits."""
    rng = np.random.default_rng(seed)
    raw, cal = [], []
    for _ in range(3):
        test = np.zeros(scores.size, dtype=bool)
        for cls in (0.0, 1.0):
            members = np.flatnonzero(labels == cls)
            chosen = rng.permutation(members)[: round(0.25 * members.size)]
            test[chosen] = True
        kx, ky = isotonic_knots(scores[~test], labels[~test])
        raw.append(expected_calibration_error(scores[test], labels[test]))
        cal.append(expected_calibration_error(np.interp(scores[test], kx, ky), labels[test]))
    ece_raw, ece_cal = float(np.mean(raw)), float(np.mean(cal))
    return ece_cal < ece_raw, ece_raw, ece_cal
