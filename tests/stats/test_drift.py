"""Drift statistics against scipy: stored reference values and live recomputation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from otelml.stats import drift
from otelml.stats.drift import DriftResult

REF = json.loads((Path(__file__).parent.parent / "data" / "drift_reference.json").read_text())
CASES = {c["name"]: c for c in REF["cases"]}
ALL = ("psi", "jensen_shannon", "kl_divergence", "hellinger", "chi_square", "g_test")
RTOL = 1e-9  # same formulas as scipy, float64 rounding only


def _run(method: str, ref: object, cur: object) -> DriftResult:
    if method == "ks":
        return drift.ks_binned(ref, cur)
    if method == "wasserstein":
        k = np.asarray(ref).size
        return drift.wasserstein_binned(ref, cur, np.arange(1.0, k), ref_std=1.0)
    fn = getattr(drift, method)
    result: DriftResult = fn(ref, cur)
    return result


@pytest.mark.parametrize("name", list(CASES))
def test_stored_scipy_values(name: str) -> None:
    c = CASES[name]
    r, q = c["ref"], c["cur"]
    assert drift.jensen_shannon(r, q).statistic == pytest.approx(c["jensen_shannon"], abs=1e-12)
    chi = drift.chi_square(r, q)
    assert chi.statistic == pytest.approx(c["chi_square"][0], rel=RTOL, abs=1e-12)
    asym = chi.details["p_value_asymptotic"]
    assert asym == pytest.approx(c["chi_square"][1], rel=1e-7, abs=1e-300)
    assert chi.details["df"] == c["chi_square"][2]
    g = drift.g_test(r, q)
    assert g.statistic == pytest.approx(c["g_test"][0], rel=1e-7, abs=1e-9)
    g_asym = g.details["p_value_asymptotic"]
    assert g_asym == pytest.approx(c["g_test"][1], rel=1e-6, abs=1e-12)
    # The decision's p-value: pooled chi-square and unseen-category test, Bonferroni x 2.
    for res in (chi, g):
        d = res.details
        assert res.p_value == min(1.0, 2 * min(d["p_value_pooled"], d["p_value_unseen"]))
    kl = drift.kl_divergence(r, q)
    assert kl.statistic == pytest.approx(c["kl_divergence_smoothed"], rel=RTOL, abs=1e-15)
    assert drift.psi(r, q).statistic == pytest.approx(c["psi_smoothed"], rel=RTOL, abs=1e-15)
    w = drift.wasserstein_binned(r, q, c["edges"], ref_std=2.0)
    assert w.statistic == pytest.approx(c["wasserstein_raw"] / 2.0, rel=RTOL, abs=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_live_against_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 30))
    r = rng.integers(0, 200, k).astype(float)
    c = rng.integers(0, 200, k).astype(float)
    r[0] += 1
    c[-1] += 1
    r[k // 2] = c[k // 2] = 0  # an all-zero column is dropped
    keep = (r + c) > 0
    table = np.vstack([r[keep], c[keep]])
    chi2, p, _dof, _ = stats.chi2_contingency(table, correction=False)
    res = drift.chi_square(r, c)
    got = (res.statistic, res.details["p_value_asymptotic"])
    assert got == pytest.approx((chi2, p), rel=1e-9, abs=1e-300)
    g, gp, _, _ = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    res = drift.g_test(r, c)
    got = (res.statistic, res.details["p_value_asymptotic"])
    assert got == pytest.approx((g, gp), rel=1e-8, abs=1e-300)
    assert drift.jensen_shannon(r, c).statistic == pytest.approx(
        jensenshannon(r, c, base=2), abs=1e-12
    )
    p_s = r[keep] + 0.5
    q_s = c[keep] + 0.5
    assert drift.kl_divergence(r, c).statistic == pytest.approx(stats.entropy(p_s, q_s), rel=1e-10)
    # Hellinger against its other closed form, sqrt(1 - Bhattacharyya coefficient).
    pn, qn = r / r.sum(), c / c.sum()
    h = math.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(pn * qn)))))
    assert drift.hellinger(r, c).statistic == pytest.approx(h, abs=1e-7)
    # PSI = KL(p||q) + KL(q||p) on the smoothed proportions.
    sym = stats.entropy(p_s, q_s) + stats.entropy(q_s, p_s)
    assert drift.psi(r, c).statistic == pytest.approx(sym, rel=1e-10)
    edges = np.cumsum(rng.uniform(0.1, 2.0, k - 1))
    vmin, vmax = edges[0] - 3.0, edges[-1] + 0.2
    reps = drift.representative_values(edges, ref_min=vmin, ref_max=vmax)
    want = stats.wasserstein_distance(reps, reps, r, c) / 1.7
    got = drift.wasserstein_binned(r, c, edges, ref_std=1.7, ref_min=vmin, ref_max=vmax)
    assert got.statistic == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("case", REF["ks"], ids=lambda c: f"shift{c['shift']}")
def test_ks_binned_bounds_raw_sample_ks(case: dict[str, object]) -> None:
    res = drift.ks_binned(case["ref"], case["cur"], edges=case["edges"])
    raw = case["raw_statistic"]
    assert isinstance(raw, float)
    # Binned D is a lower bound, details["statistic_upper_bound"] an upper bound of raw D.
    assert res.statistic <= raw + 1e-12
    assert raw <= res.details["statistic_upper_bound"] + 1e-12
    # ... and the binned p-value therefore an upper bound of ks_2samp's (conservative).
    assert res.p_value is not None
    assert res.p_value >= 0.97 * float(case["raw_pvalue"])  # type: ignore[arg-type]


def test_ks_live_bound_and_pvalue_law() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        x = rng.normal(size=int(rng.integers(50, 3000)))
        y = rng.normal(rng.uniform(-0.5, 0.5), rng.uniform(0.7, 1.4), int(rng.integers(50, 3000)))
        edges = np.quantile(x, np.linspace(0, 1, 21)[1:-1])
        r = np.bincount(np.searchsorted(edges, x), minlength=20)
        c = np.bincount(np.searchsorted(edges, y), minlength=20)
        res = drift.ks_binned(r, c)
        raw = stats.ks_2samp(x, y).statistic
        assert res.statistic <= raw + 1e-12 <= res.details["statistic_upper_bound"] + 2e-12
        # Same statistic as the sample KS evaluated only at the edges.
        fx = np.searchsorted(np.sort(x), edges, side="right") / x.size
        fy = np.searchsorted(np.sort(y), edges, side="right") / y.size
        assert res.statistic == pytest.approx(np.abs(fx - fy).max(), abs=1e-12)


@pytest.mark.parametrize("n", [30, 100, 1000, 3000])
def test_ks_pvalue_close_to_kstwo(n: int) -> None:
    # The documented accuracy of the Stephens-corrected Kolmogorov law used for p-values.
    d = np.linspace(0.5, 2.0, 40) / math.sqrt(n)
    exact = stats.kstwo.sf(d, n)
    sn = math.sqrt(n)
    from scipy import special

    approx = special.kolmogorov((sn + 0.12 + 0.11 / sn) * d)
    mask = (exact > 1e-4) & (exact < 0.2)
    assert np.all(np.abs(approx[mask] / exact[mask] - 1) < 0.04)
    # and the library applies it at n_eff = n_ref n_cur / (n_ref + n_cur) (huge ref: n_eff = n):
    res = drift.ks_binned([1e12, 1e12], [n * 0.5 + n * 0.1, n * 0.5 - n * 0.1])
    n_eff = 2e12 * n / (2e12 + n)
    assert res.details["n_eff"] == pytest.approx(n_eff, rel=1e-12)
    s_eff = math.sqrt(n_eff)
    want = special.kolmogorov((s_eff + 0.12 + 0.11 / s_eff) * 0.1)
    assert res.p_value == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("method", [*ALL, "ks", "wasserstein"])
def test_empty_window_is_flagged_not_nan(method: str) -> None:
    for ref, cur in (([5, 3, 2], [0, 0, 0]), ([0, 0, 0], [1, 2, 3])):
        res = _run(method, ref, cur)
        assert res.empty
        assert (res.statistic, res.effect_size, res.p_value) == (0.0, 0.0, None)


@pytest.mark.parametrize("method", [*ALL, "ks", "wasserstein"])
def test_identical_distributions_score_zero(method: str) -> None:
    res = _run(method, [10, 20, 30], [20, 40, 60])
    if method in ("psi", "kl_divergence"):
        # The pseudo-count weighs more on the smaller side: a small bias, documented.
        assert 0 < res.statistic < 1e-4
        assert res.p_value is not None
        assert res.p_value > 0.99
    else:
        assert res.statistic == pytest.approx(0.0, abs=1e-12)
        assert res.p_value == pytest.approx(1.0)
    assert (res.n_ref, res.n_cur, res.bins) == (60, 120, 3)


@pytest.mark.parametrize("method", [*ALL, "ks", "wasserstein"])
def test_single_bin_constant_feature(method: str) -> None:
    # One bin (or a constant feature: everything in one bin): nothing can differ.
    if method == "wasserstein":
        res = drift.wasserstein_binned([100], [7], [], ref_std=0.0)
    else:
        res = _run(method, [100], [7])
    assert res.statistic == pytest.approx(0.0, abs=1e-12)
    assert res.p_value == 1.0


@pytest.mark.parametrize("method", [*ALL, "ks", "wasserstein"])
def test_disjoint_supports_are_finite_and_maximal(method: str) -> None:
    res = _run(method, [50, 50, 0, 0], [0, 0, 30, 70])
    assert math.isfinite(res.statistic)
    assert math.isfinite(res.effect_size)
    assert res.p_value is not None
    assert res.p_value < 1e-10
    if method in ("jensen_shannon", "hellinger", "chi_square", "g_test", "ks"):
        assert res.effect_size == pytest.approx(1.0)


@pytest.mark.parametrize("method", [*ALL, "ks", "wasserstein"])
def test_counts_near_1e12(method: str) -> None:
    small = _run(method, [400, 300, 200, 100], [390, 310, 200, 100])
    big = _run(method, [4e11, 3e11, 2e11, 1e11], [3.9e11, 3.1e11, 2e11, 1e11])
    assert math.isfinite(big.statistic)
    assert big.n_ref == 10**12
    if method in ("jensen_shannon", "hellinger", "ks", "wasserstein"):
        assert big.statistic == pytest.approx(small.statistic, rel=1e-9)
    if method in ("chi_square", "g_test"):
        assert big.statistic == pytest.approx(small.statistic * 1e9, rel=1e-6)
        assert big.effect_size == pytest.approx(small.effect_size, rel=1e-9)
        assert big.p_value == 0.0


def test_cramers_v_is_balanced_and_size_free() -> None:
    r = np.array([10.0, 30, 60])
    c = np.array([30.0, 30, 40])
    v = drift.chi_square(r, c).effect_size
    # V of the table with both rows at equal totals equals sqrt(chi2 / N) there.
    table = np.vstack([r, c])
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    assert v == pytest.approx(math.sqrt(chi2 / table.sum()))
    assert drift.chi_square(r * 1000, c).effect_size == pytest.approx(v)


def test_wasserstein_reports_a_location_shift_in_std_units() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=200_000)
    edges = np.quantile(x, np.linspace(0, 1, 21)[1:-1])
    r = np.bincount(np.searchsorted(edges, x), minlength=20)
    c = np.bincount(np.searchsorted(edges, rng.normal(0.5, size=200_000)), minlength=20)
    w = drift.wasserstein_binned(r, c, edges, ref_std=x.std(), ref_min=x.min(), ref_max=x.max())
    assert w.statistic == pytest.approx(0.5, abs=0.05)
    assert w.details["ks_statistic"] == drift.ks_binned(r, c).statistic


def test_representative_values() -> None:
    e = [0.0, 1.0, 3.0]
    # inner midpoints; outer at mid(min, edge) capped at one neighbouring width
    assert drift.representative_values(e, ref_min=-0.5, ref_max=3.5).tolist() == [
        -0.25,
        0.5,
        2.0,
        3.25,
    ]
    assert drift.representative_values(e, ref_min=-10, ref_max=30).tolist() == [-1, 0.5, 2, 5]
    assert drift.representative_values(e).tolist() == [-0.5, 0.5, 2.0, 4.0]
    assert drift.representative_values([2.0], scale=4.0).tolist() == [0.0, 4.0]
    with pytest.raises(ValueError, match="edges"):
        drift.representative_values([1.0, 1.0])


@pytest.mark.parametrize(
    ("ref", "cur", "match"),
    [
        ([1, -1], [1, 1], "ref_counts must be non-negative"),
        ([1, 1], [1, np.nan], "cur_counts must be finite"),
        ([1, 1], [1, np.inf], "cur_counts must be finite"),
        ([1, 1], [1, 1, 1], "shape"),
        ([], [], "ref_counts must count at least one bin"),
        ([[1]], [[1]], "ref_counts must be 1-D"),
        (["a"], [1], "ref_counts must be an array of numbers"),
    ],
)
def test_invalid_input_names_the_parameter(ref: object, cur: object, match: str) -> None:
    for method in ALL:
        with pytest.raises(ValueError, match=match):
            getattr(drift, method)(ref, cur)


def test_other_parameter_errors() -> None:
    with pytest.raises(ValueError, match="pseudo_count"):
        drift.psi([1, 2], [2, 1], pseudo_count=0.0)
    with pytest.raises(ValueError, match="ref_std"):
        drift.wasserstein_binned([1, 2], [2, 1], [0.0], ref_std=-1.0)
    with pytest.raises(ValueError, match="edges"):
        drift.ks_binned([1, 2], [2, 1], edges=[0.0, 1.0])
    with pytest.raises(ValueError, match="method"):
        drift.batch_drift("nope", [[1]], [[1]])
    with pytest.raises(ValueError, match="reps and scale"):
        drift.batch_drift("wasserstein", [[1, 2]], [[2, 1]])


def test_psi_smoothing_keeps_empty_bins_finite_and_drops_unused_bins() -> None:
    res = drift.psi([100, 0, 0], [0, 100, 0])
    p = np.array([100.5, 0.5]) / 101
    q = p[::-1]
    assert res.statistic == pytest.approx(float(np.sum((q - p) * np.log(q / p))))
    assert res.details["df"] == 1


def test_batch_equals_single_with_padding() -> None:
    rng = np.random.default_rng(11)
    rows_r = [rng.integers(0, 50, k).astype(float) + 1 for k in (3, 5, 8)]
    rows_c = [rng.integers(0, 50, k).astype(float) + 1 for k in (3, 5, 8)]
    pad_r = np.zeros((3, 8))
    pad_c = np.zeros((3, 8))
    for i in range(3):
        pad_r[i, : rows_r[i].size] = rows_r[i]
        pad_c[i, : rows_c[i].size] = rows_c[i]
    for method in (*ALL, "ks"):
        batch = drift.batch_drift(method, pad_r, pad_c)
        for i in range(3):
            one = _run(method, rows_r[i], rows_c[i])
            assert batch[i].statistic == pytest.approx(one.statistic, rel=1e-12, abs=1e-15)
            assert batch[i].p_value == pytest.approx(one.p_value, rel=1e-9)


def test_result_is_frozen_with_empty_details() -> None:
    res = drift.jensen_shannon([1, 2], [2, 1])
    with pytest.raises(AttributeError):
        res.statistic = 1.0  # type: ignore[misc]
    assert DriftResult("psi", 0.0, None, 0.0, 0, 0, 1).details == {}
