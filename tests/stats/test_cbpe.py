"""CBPE: calibration against sklearn, estimates against realised metrics under covariate shift,
and the divergence flag under concept drift."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from otelml.stats.cbpe import CBPEEstimator, divergence, expected_calibration_error
from otelml.stats.performance import ScoreHistograms

# The world: x ~ N(mu, 1) per window, P(y=1 | x) = sigmoid(2x - 0.5). A model that outputs
# score = P(y=1 | x) is calibrated by construction; moving mu is covariate shift only.


def _window(
    rng: np.random.Generator, n: int, mu: float, *, flip: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(mu, 1.0, n)
    p = 1.0 / (1.0 + np.exp(-(2.0 * x - 0.5)))
    y = (rng.random(n) < (1.0 - p if flip else p)).astype(np.int64)
    return p, y


def _realised(scores: np.ndarray, y: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    pred = (scores > threshold).astype(np.int64)
    return {
        "accuracy": accuracy_score(y, pred),
        "precision": precision_score(y, pred, zero_division=0),
        "recall": recall_score(y, pred, zero_division=0),
        "f1": f1_score(y, pred, zero_division=0),
        "roc_auc": roc_auc_score(y, scores),
    }


@pytest.fixture(scope="module")
def reference() -> tuple[np.ndarray, np.ndarray]:
    return _window(np.random.default_rng(100), 20_000, 0.0)


def test_isotonic_calibration_equals_sklearn() -> None:
    rng = np.random.default_rng(1)
    s = np.round(rng.random(3000), 3)  # ties in the scores
    y = (rng.random(3000) < s**2).astype(int)
    est = CBPEEstimator.fit(s, y, calibrate=True)
    ref = IsotonicRegression(out_of_bounds="clip").fit(s, y)
    grid = np.concatenate([np.linspace(-0.5, 1.5, 2001), s[:100]])
    np.testing.assert_allclose(est.probabilities(grid), ref.predict(grid), atol=1e-12)
    assert est.calibrated


def test_auto_calibration_decision(reference: tuple[np.ndarray, np.ndarray]) -> None:
    p, y = reference
    # Calibrated by construction: raw and isotonic held-out ECE are both sampling noise, so
    # either choice is right; what matters is that the probabilities stay close to p.
    for seed in range(2):
        est = CBPEEstimator.fit(p, y, seed=seed)
        assert est.ece[0] < 0.02
        assert np.abs(est.probabilities(p) - p).max() < 0.1
    distorted = CBPEEstimator.fit(p**3, y)  # same ranking, badly calibrated
    assert distorted.calibrated
    assert distorted.ece[1] < distorted.ece[0]
    logits = CBPEEstimator.fit(np.log(p / (1 - p)), y, calibrate=False)
    assert logits.calibrated  # scores outside [0, 1] are always calibrated


def test_expected_calibration_error_known_values() -> None:
    assert expected_calibration_error([0.05, 0.05, 0.95, 0.95], [0, 0, 1, 1]) == pytest.approx(0.05)
    assert expected_calibration_error([0.5, 0.5], [1, 1]) == pytest.approx(0.5)
    assert math.isnan(expected_calibration_error([], []))


# Tolerance: under a holding calibration the realised metric scatters around the estimate
# with the reported standard error (accuracy: sqrt(Σp(1-p))/n ≈ 0.006 at n = 5000), so
# 3 SE leaves ~0.3% per comparison; 0.01 on top covers the calibration's own error from a
# 20 000-row reference (held-out ECE ≈ 0.005) and the Hanley-McNeil approximation for AUC.
TOL_SE, TOL_FLOOR = 3.0, 0.01


@pytest.mark.parametrize("distort", [False, True])
def test_estimate_tracks_realised_under_covariate_shift(
    reference: tuple[np.ndarray, np.ndarray], distort: bool
) -> None:
    p_ref, y_ref = reference
    warp = (lambda p: p**3) if distort else (lambda p: p)
    # Threshold 0.125 on p**3 is the same decision as 0.5 on p.
    threshold = 0.125 if distort else 0.5
    est = CBPEEstimator.fit(warp(p_ref), y_ref, threshold=threshold)
    rng = np.random.default_rng(200)
    realised_acc = []
    for mu in (-1.0, 0.0, 1.0, 2.0):
        p, y = _window(rng, 5000, mu)
        scores = warp(p)
        result = est.estimate(scores)
        real = _realised(scores, y, threshold)
        realised_acc.append(real["accuracy"])
        for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
            gap = abs(result.estimates[name] - real[name])
            assert gap <= TOL_SE * result.std_errors[name] + TOL_FLOOR, (mu, name, gap)
        assert not divergence(result, real).flagged
        c = result.confusion
        assert c["tp"] + c["fp"] + c["fn"] + c["tn"] == pytest.approx(5000)
    # The shift really moves performance, so tracking it is not trivial.
    assert max(realised_acc) - min(realised_acc) > 0.1


def test_concept_drift_fires_divergence(reference: tuple[np.ndarray, np.ndarray]) -> None:
    est = CBPEEstimator.fit(*reference)
    rng = np.random.default_rng(300)
    p, y = _window(rng, 5000, 0.5, flip=True)  # P(y|x) inverted; P(x) barely moved
    result = est.estimate(p)
    flag = divergence(result, _realised(p, y))
    assert flag.flagged
    assert {"accuracy", "roc_auc"} <= set(flag.metrics)
    # With labels for 2% of the window, the band widens by sqrt(50) but still catches it.
    few = divergence(result, _realised(p[:100], y[:100]), n=100)
    assert few.bounds["accuracy"] == pytest.approx(
        3 * result.std_errors["accuracy"] * math.sqrt(50) + 0.02
    )
    assert few.flagged


def test_histogram_estimate_matches_raw_estimate(
    reference: tuple[np.ndarray, np.ndarray],
) -> None:
    p_ref, y_ref = reference
    rng = np.random.default_rng(400)
    p, y = _window(rng, 20_000, 0.7)
    # Scores spread over [0, 1] lose almost nothing to 1000 bins (measured ~1e-5). Scores
    # squeezed near 0 (p**3) lose more (measured 2.6e-3 on ROC AUC): a bin's mean calibrated
    # probability assumes uniform scores within the bin, and the isotonic map is steep there.
    cases = (
        (CBPEEstimator.fit(p_ref, y_ref, calibrate=False), p, 1e-3),
        (CBPEEstimator.fit(p_ref**3, y_ref, threshold=0.125), p**3, 4e-3),
    )
    for est, scores, tol in cases:
        raw = est.estimate(scores)
        hist = ScoreHistograms()  # 1000 uniform bins over [0, 1]
        hist.update_many(y, scores)
        binned = est.estimate(hist)
        assert binned.n == raw.n
        for name in raw.estimates:
            assert binned.estimates[name] == pytest.approx(raw.estimates[name], abs=tol), name
            assert binned.std_errors[name] >= raw.std_errors[name] * (1 - 1e-3), name
        assert binned.details["roc_auc_binning_bound"] < 2e-3


@dataclass
class _Hist:
    """What otelml.stats.FixedHistogram offers CBPE: edges and per-bin counts."""

    edges: np.ndarray
    counts: np.ndarray


def test_threshold_inside_a_bin_is_split_by_width() -> None:
    est = CBPEEstimator([0.0, 1.0], [0.0, 1.0], threshold=0.5, calibrated=False)
    # One bin (0.4, 0.8] holding 10 scores: 2.5 of them at or below 0.5, 7.5 above.
    result = est.estimate(_Hist(np.array([0.4, 0.8]), np.array([0, 10, 0])))
    c = result.confusion
    assert c["tn"] + c["fn"] == pytest.approx(2.5)
    assert c["fn"] == pytest.approx(2.5 * 0.45)
    assert c["tp"] == pytest.approx(7.5 * 0.65)
    # Threshold on an edge: the bin (0.4, 0.5] is wholly predicted negative.
    on_edge = est.estimate(_Hist(np.array([0.4, 0.5, 0.8]), np.array([0, 4, 6, 0])))
    assert on_edge.confusion["tn"] + on_edge.confusion["fn"] == pytest.approx(4.0)


def test_y_pred_override_and_nan_scores() -> None:
    est = CBPEEstimator([0.0, 1.0], [0.0, 1.0], calibrated=False)
    result = est.estimate([0.9, 0.2, np.nan], y_pred=[0, 0, 1])
    assert result.n == 2
    assert result.confusion["fn"] == pytest.approx(1.1)
    assert math.isnan(result.estimates["precision"])  # nothing predicted positive
    with pytest.raises(ValueError, match="y_pred"):
        est.estimate([0.1, 0.2], y_pred=[1])


def test_serialisation_round_trip(reference: tuple[np.ndarray, np.ndarray]) -> None:
    p, y = reference
    for est in (CBPEEstimator.fit(p, y), CBPEEstimator.fit(p**3, y, calibrate=True)):
        back = CBPEEstimator.from_dict(json.loads(json.dumps(est.to_dict())))
        assert back == est
        np.testing.assert_array_equal(back.probabilities(p[:500]), est.probabilities(p[:500]))
        assert set(est.reference) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert est.reference["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    with pytest.raises(ValueError, match="type"):
        CBPEEstimator.from_dict({"type": "other", "format": 1})


def test_fit_rejects_bad_reference() -> None:
    with pytest.raises(ValueError, match="both classes"):
        CBPEEstimator.fit([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="finite"):
        CBPEEstimator.fit([0.1, np.nan], [0, 1])
    with pytest.raises(ValueError, match="non-decreasing"):
        CBPEEstimator([0.0, 1.0], [1.0, 0.0])
