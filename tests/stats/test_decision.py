"""The drift decision: BH against scipy, policy validation, and calibration on seeded data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from otelml.stats import drift
from otelml.stats.decision import (
    DEFAULT_THRESHOLDS,
    DriftPolicy,
    FeatureStatus,
    benjamini_hochberg,
    decide,
    model_status,
    rank_features,
)
from otelml.stats.drift import DriftResult

RNG_REF = np.random.default_rng(2024)
X_REF = RNG_REF.normal(size=100_000)
EDGES = np.quantile(X_REF, np.linspace(0, 1, 11)[1:-1])
NUM_REF = np.bincount(np.searchsorted(EDGES, X_REF), minlength=10).astype(float)
REPS = drift.representative_values(EDGES, ref_min=X_REF.min(), ref_max=X_REF.max())
CAT_P = np.array([0.1, 0.3, 0.3, 0.2, 0.1])
CAT_REF = CAT_P * 100_000
N_NUM, N_CAT = 6, 4


def _normal_bin_probs(shift: float) -> np.ndarray:
    cdf = np.concatenate([[0.0], stats.norm.cdf(EDGES, loc=shift), [1.0]])
    return np.diff(cdf)


def _model_results(num_p: np.ndarray, cat_p: np.ndarray, n: int, trials: int, seed: int):
    """Yield one {feature: DriftResult} per trial, counts drawn straight from bin probabilities."""
    rng = np.random.default_rng(seed)
    num_cur = rng.multinomial(n, num_p, size=(trials, N_NUM)).reshape(-1, 10)
    cat_cur = rng.multinomial(n, cat_p, size=(trials, N_CAT)).reshape(-1, 5)
    num = drift.batch_drift(
        "wasserstein",
        np.tile(NUM_REF, (num_cur.shape[0], 1)),
        num_cur,
        reps=np.tile(REPS, (num_cur.shape[0], 1)),
        scale=np.full(num_cur.shape[0], X_REF.std()),
    )
    cat = drift.batch_drift("chi_square", np.tile(CAT_REF, (cat_cur.shape[0], 1)), cat_cur)
    for t in range(trials):
        res = {f"num{i}": num[t * N_NUM + i] for i in range(N_NUM)}
        res.update({f"cat{i}": cat[t * N_CAT + i] for i in range(N_CAT)})
        yield res


@pytest.mark.parametrize("n", [100, 10_000, 1_000_000])
def test_no_drift_flags_at_most_5_percent(n: int) -> None:
    null_p = NUM_REF / NUM_REF.sum()
    flagged = total = 0
    for res in _model_results(null_p, CAT_P, n, trials=200, seed=n):
        statuses = decide(res)
        flagged += sum(s.status == "drift" for s in statuses.values())
        total += len(statuses)
    assert flagged / total <= 0.05


@pytest.mark.parametrize("n", [1_000, 10_000, 1_000_000])
def test_real_shifts_are_flagged(n: int) -> None:
    # Feature num0: a 0.5 std mean shift; cat0: category "a" from 10% to 30%. All others: null.
    shifted = _normal_bin_probs(0.5)
    cat_moved = np.concatenate([[0.3], CAT_P[1:] * 0.7 / 0.9])
    rng = np.random.default_rng(n + 1)
    hits_num = hits_cat = 0
    trials = 200
    num_cur = rng.multinomial(n, shifted, size=trials)
    cat_cur = rng.multinomial(n, cat_moved, size=trials)
    num = drift.batch_drift(
        "wasserstein",
        np.tile(NUM_REF, (trials, 1)),
        num_cur,
        reps=np.tile(REPS, (trials, 1)),
        scale=np.full(trials, X_REF.std()),
    )
    cat = drift.batch_drift("chi_square", np.tile(CAT_REF, (trials, 1)), cat_cur)
    nulls = _model_results(NUM_REF / NUM_REF.sum(), CAT_P, n, trials=trials, seed=n + 2)
    for t, res in enumerate(nulls):
        res["num0"], res["cat0"] = num[t], cat[t]
        statuses = decide(res)
        hits_num += statuses["num0"].status == "drift"
        hits_cat += statuses["cat0"].status == "drift"
    assert hits_num / trials >= 0.95
    assert hits_cat / trials >= 0.95


def test_large_n_tiny_shift_is_not_drift() -> None:
    # At a million rows a 0.02 std shift is highly significant but practically irrelevant.
    p = _normal_bin_probs(0.02)
    cur = np.random.default_rng(5).multinomial(1_000_000, p)
    res = drift.wasserstein_binned(
        NUM_REF, cur, EDGES, ref_std=X_REF.std(), ref_min=X_REF.min(), ref_max=X_REF.max()
    )
    assert res.p_value is not None
    assert res.p_value < 1e-3
    status = decide({"x": res})["x"]
    assert status.status == "ok"
    assert "too small to matter" in status.reason


@pytest.mark.parametrize("seed", range(5))
def test_benjamini_hochberg_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 1e-3, 10), [0.0, 1.0, 0.5, 0.5]])
    rng.shuffle(p)
    np.testing.assert_allclose(
        benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"), rtol=1e-12
    )


def test_benjamini_hochberg_edges() -> None:
    assert benjamini_hochberg([]).size == 0
    assert benjamini_hochberg([0.3]).tolist() == [0.3]
    with pytest.raises(ValueError, match="p_values"):
        benjamini_hochberg([1.5])
    with pytest.raises(ValueError, match="p_values"):
        benjamini_hochberg([[0.1]])


def _res(method: str = "psi", effect: float = 0.0, p: float | None = 0.5, n: int = 1000):
    return DriftResult(method, effect, p, effect, 10_000, n, 10)


def test_statuses_and_reasons() -> None:
    results = {
        "drift": _res(effect=0.3, p=1e-9),
        "warning": _res(effect=0.15, p=1e-9),
        "small": _res(effect=0.01, p=1e-9),
        "noise": _res(effect=0.3, p=0.5),
        "few": _res(effect=0.9, p=1e-9, n=19),
        "empty": DriftResult("psi", 0.0, None, 0.0, 10_000, 0, 10),
        "nop": _res(effect=0.25, p=None),
    }
    out = decide(results)
    assert {k: v.status for k, v in out.items()} == {
        "drift": "drift",
        "warning": "warning",
        "small": "ok",
        "noise": "ok",
        "few": "insufficient_data",
        "empty": "insufficient_data",
        "nop": "drift",
    }
    # BH family: the 4 sufficient results with p-values.
    assert out["drift"].p_adjusted == pytest.approx(4 * 1e-9 / 3)
    assert out["noise"].p_adjusted == pytest.approx(0.5)
    assert out["few"].p_adjusted is None
    assert out["nop"].p_adjusted is None
    assert out["drift"].code == 2
    assert out["few"].code == -1
    assert "not significant" in out["noise"].reason
    assert model_status(out) == "drift"
    assert model_status([out["small"], out["few"]]) == "ok"
    assert model_status({"few": out["few"]}) == "insufficient_data"
    assert model_status({}) == "insufficient_data"


def test_policy_overrides_and_validation() -> None:
    assert DriftPolicy().validate() == []
    p = DriftPolicy(warning_threshold=0.5, drift_threshold=0.6, min_samples=10)
    assert p.thresholds_for("psi") == (0.5, 0.6)
    out = decide({"x": _res(effect=0.55, p=1e-9, n=50)}, p)
    assert out["x"].status == "warning"
    bad = DriftPolicy(
        fdr_alpha=1.5,
        min_samples=0,
        thresholds={"psi": (0.3, 0.2), "nope": (0.1, 0.2)},
        warning_threshold=-1.0,
    )
    errors = bad.validate()
    assert any(e.startswith("fdr_alpha") for e in errors)
    assert any(e.startswith("min_samples") for e in errors)
    assert any(e.startswith("thresholds.psi") for e in errors)
    assert any(e.startswith("thresholds.nope") for e in errors)
    assert any(e.startswith("warning_threshold") for e in errors)
    with pytest.raises(ValueError, match="fdr_alpha"):
        decide({}, bad)
    assert set(DEFAULT_THRESHOLDS) == set(drift.METHODS)


def test_rank_features_weights_by_importance_on_a_common_scale() -> None:
    results = {
        "a": _res("psi", effect=0.2),  # 1.0 x drift threshold
        "b": _res("wasserstein", effect=0.05),  # 0.5
        "c": _res("chi_square", effect=0.21),  # 3.0
        "d": DriftResult("psi", 0.0, None, 0.0, 100, 0, 10),
    }
    ranked = rank_features(results, importances={"b": 10.0})
    assert [n for n, _ in ranked] == ["b", "c", "a", "d"]
    assert dict(ranked) == pytest.approx({"a": 1.0, "b": 5.0, "c": 3.0, "d": 0.0})


def test_feature_status_is_frozen() -> None:
    s = FeatureStatus("ok", None, "")
    with pytest.raises(AttributeError):
        s.status = "drift"  # type: ignore[misc]
