"""The decision at every window size: small-n tests against scipy, the reported repros, null
false alarms, the minimum detectable effect, and the binned W1 against the raw-data one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from otelml.stats import _small_n, drift
from otelml.stats._drift_kernels import _ks_sf
from otelml.stats.baseline import FeatureBaseline
from otelml.stats.baseline_builder import BaselineBuilder
from otelml.stats.categorical import CategoryCounts
from otelml.stats.compare import compare, compare_many
from otelml.stats.decision import DriftPolicy, decide

REF = json.loads((Path(__file__).parent.parent / "data" / "drift_reference.json").read_text())
SMALL = {c["name"]: c for c in REF["small_n"]}


def _baseline(x: np.ndarray) -> FeatureBaseline:
    b = BaselineBuilder()
    b.update({"x": x})
    return b.freeze(model="m", version="1").features["x"]


def _window(fb: FeatureBaseline, y: np.ndarray):  # type: ignore[no-untyped-def]
    h = fb.new_sketch()
    h.update_many(y)
    return h


@pytest.mark.parametrize("name", list(SMALL))
def test_small_n_tests_match_stored_scipy_values(name: str) -> None:
    c = SMALL[name]
    r, q = np.array([c["ref"]], float), np.array([c["cur"]], float)
    assert _small_n.rank_p(r, q)[0] == pytest.approx(c["mannwhitneyu_untied"], rel=1e-9)
    assert _small_n.outside_p(r, q)[0] == pytest.approx(c["outside"], rel=1e-9)
    assert _small_n.unseen_p(r, q)[0] == pytest.approx(c["unseen"], rel=1e-9)
    assert _small_n.pooled_chi2_p(r, q)[0][0] == pytest.approx(c["pooled_chi2"], rel=1e-9)


def test_outside_p_is_the_rank_probability() -> None:
    # 3 current values above every reference value: the 3 largest of the pooled sample.
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=40), np.concatenate([rng.normal(size=17), [9.0, 9.5, 10.0]])
    pooled = np.concatenate([x, y])
    top3_all_current = stats.hypergeom.pmf(3, pooled.size, y.size, 3)
    r = np.array([[1.0, 39.0, 0.0]])
    c = np.array([[0.0, 17.0, 3.0]])
    assert _small_n.outside_p(r, c)[0] == pytest.approx(2 * top3_all_current, rel=1e-12)


# -- the reported cases -------------------------------------------------------------------


def test_small_window_entirely_outside_the_range_is_drift() -> None:
    # Was "insufficient_data": the decision needed 100 values.
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000)
    fb = _baseline(x)
    y = rng.uniform(x.max(), x.max() + 1.0, 50)
    res = compare(fb, _window(fb, y))
    st = decide({"x": res})["x"]
    assert st.status == "drift", st.reason
    assert res.p_value is not None
    assert res.p_value < 1e-20


@pytest.mark.parametrize("n", [20, 30])
def test_overwhelming_evidence_alerts_from_20_rows(n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.normal(size=10 * n)
    fb = _baseline(x)
    y = rng.normal(x.max() + 1.0, 0.3, n)
    assert decide({"x": compare(fb, _window(fb, y))})["x"].status == "drift"


def test_weak_but_certain_mixture_shift_is_drift() -> None:
    # 10 % of a 2,000-row window shifted by 2 std against a 20,000-row baseline: was "warning".
    rng = np.random.default_rng(1)
    fb = _baseline(rng.normal(size=20_000))
    y = rng.normal(size=2_000)
    y[: y.size // 10] += 2.0
    res = compare(fb, _window(fb, y))
    assert decide({"x": res})["x"].status == "drift"
    assert res.effect_size == pytest.approx(0.2, abs=0.05)


def test_weak_evidence_at_small_n_stays_ok_and_says_what_it_could_see() -> None:
    rng = np.random.default_rng(2)
    fb = _baseline(rng.normal(size=5_000))
    res = compare(fb, _window(fb, rng.normal(0.3, 1.0, 20)))
    st = decide({"x": res})["x"]
    assert st.status == "ok"
    assert "detectable from" in st.reason
    assert 0.3 < st.min_detectable_effect == res.min_detectable_effect < 2.0
    too_few = decide({"x": compare(fb, _window(fb, rng.normal(size=10)))})["x"]
    assert too_few.status == "insufficient_data"


# -- false alarms on unchanged data ---------------------------------------------------------


SHAPES = {
    "normal": lambda g, n: g.normal(size=n),
    "lognormal": lambda g, n: g.lognormal(0.0, 1.0, n),
    "poisson": lambda g, n: g.poisson(2.0, n).astype(float),
}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("n", [20, 100, 5_000])
def test_no_false_drift_on_null_numeric(shape: str, n: int) -> None:
    g = np.random.default_rng(n)
    sample = SHAPES[shape]
    fb = _baseline(sample(g, 10 * n))
    pairs = {str(t): (fb, _window(fb, sample(g, n))) for t in range(60)}
    statuses = decide(compare_many(pairs), separate=list(pairs))
    # drift_alpha = 0.001: expected 0.06 false drifts in 60 trials
    assert sum(s.status == "drift" for s in statuses.values()) <= 1


@pytest.mark.parametrize("k", [3, 500])
@pytest.mark.parametrize("n", [20, 1_000])
def test_no_false_drift_on_null_categories(k: int, n: int) -> None:
    g = np.random.default_rng(k + n)
    p = 1.0 / np.arange(1, k + 1) ** 1.1
    p /= p.sum()
    names = [f"c{i}" for i in range(k)]
    ref = g.multinomial(10 * n, p)
    fb = FeatureBaseline(
        name="c",
        kind="categorical",
        categories={c: int(v) for c, v in zip(names, ref, strict=True) if v},
        count=10 * n,
    )
    pairs = {}
    for t in range(60):
        cc = CategoryCounts(cap=k + 1)
        cur = g.multinomial(n, p)
        cc.update_counts({c: int(v) for c, v in zip(names, cur, strict=True) if v})
        pairs[str(t)] = (fb, cc)
    statuses = decide(compare_many(pairs), separate=list(pairs))
    assert sum(s.status == "drift" for s in statuses.values()) <= 1


def test_category_mass_move_is_drift_at_1000() -> None:
    g = np.random.default_rng(3)
    p = np.array([0.4, 0.3, 0.2, 0.1])
    q = np.array([0.3, 0.4, 0.2, 0.1])
    names = ["a", "b", "c", "d"]
    fb = FeatureBaseline(
        name="c",
        kind="categorical",
        categories=dict(zip(names, g.multinomial(10_000, p).tolist(), strict=True)),
        count=10_000,
    )
    cc = CategoryCounts()
    cc.update_counts(dict(zip(names, g.multinomial(1_000, q).tolist(), strict=True)))
    assert decide({"c": compare(fb, cc)})["c"].status == "drift"


# -- minimum detectable effect and the decision's parameters -------------------------------


def test_min_detectable_effect_is_where_the_test_reaches_alpha() -> None:
    n_ref, n_cur = np.array([5_000.0, 200.0]), np.array([500.0, 50.0])
    d = _small_n.min_detectable_effect("ks", n_ref, n_cur, np.zeros(2), 0.001)
    n_eff = n_ref * n_cur / (n_ref + n_cur)
    np.testing.assert_allclose(_ks_sf(d, n_eff), 0.001, rtol=1e-6)
    w = _small_n.min_detectable_effect("wasserstein", n_ref, n_cur, np.zeros(2), 0.001)
    assert w[0] < w[1]  # more data, smaller detectable shift
    v = _small_n.min_detectable_effect("chi_square", n_ref, n_cur, np.array([3.0, 3.0]), 0.001)
    crit = stats.chi2.isf(0.0005, 3)
    np.testing.assert_allclose(4 * n_eff * v**2, crit, rtol=1e-9)
    assert _small_n.min_detectable_effect("psi", n_ref, n_cur, np.zeros(2), 0.01)[0] == np.inf


def test_separate_families_and_drift_alpha() -> None:
    def res(p: float) -> drift.DriftResult:
        return drift.DriftResult("wasserstein", 0.5, p, 0.5, 10_000, 1_000, 10)

    results = {f"f{i}": res(0.5) for i in range(9)} | {"pred": res(0.0004)}
    together = decide(results)
    alone = decide(results, separate=["pred"])
    assert together["pred"].p_adjusted == pytest.approx(0.004)
    assert together["pred"].status == "warning"  # 0.004: significant, not certain
    assert alone["pred"].p_adjusted == pytest.approx(0.0004)
    assert alone["pred"].status == "drift"
    assert DriftPolicy(drift_alpha=0.1).validate() == ["drift_alpha: 0.1 > fdr_alpha 0.05"]


# -- effect sizes that mean what they say -----------------------------------------------------


CASES = {
    "normal shift 0.5": (lambda g, n: g.normal(size=n), lambda g, n: g.normal(0.5, 1.0, n)),
    "lognormal sigma x1.2": (
        lambda g, n: g.lognormal(0.0, 1.0, n),
        lambda g, n: g.lognormal(0.0, 1.2, n),
    ),
    "uniform shift": (lambda g, n: g.uniform(0, 1, n), lambda g, n: g.uniform(0.1, 1.1, n)),
    "bimodal reweighted": (
        lambda g, n: np.where(g.uniform(size=n) < 0.5, g.normal(-2, 1, n), g.normal(2, 1, n)),
        lambda g, n: np.where(g.uniform(size=n) < 0.65, g.normal(-2, 1, n), g.normal(2, 1, n)),
    ),
    "poisson +10%": (
        lambda g, n: g.poisson(3.0, n).astype(float),
        lambda g, n: g.poisson(3.3, n).astype(float),
    ),
    "normal scale x1.2": (lambda g, n: g.normal(size=n), lambda g, n: g.normal(0, 1.2, n)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_binned_wasserstein_tracks_raw_data_at_10k(case: str) -> None:
    g = np.random.default_rng(11)
    make_ref, make_cur = CASES[case]
    x, y = make_ref(g, 10_000), make_cur(g, 10_000)
    fb = _baseline(x)
    got = compare(fb, _window(fb, y)).effect_size
    raw = stats.wasserstein_distance(x, y) / x.std()
    assert abs(got - raw) <= max(0.1 * raw, 0.01), (got, raw)


def test_unseen_category_alerts_even_when_every_category_is_too_rare_to_count() -> None:
    # 500 Zipf categories, 20-row window, 200-row baseline: no cell expects 5 values, so the
    # chi-square has nothing to test, but 6 values of a category never seen are certain.
    g = np.random.default_rng(1)
    p = 1.0 / np.arange(1, 501) ** 1.1
    p /= p.sum()
    names = [f"c{i}" for i in range(500)]
    ref = g.multinomial(200, p)
    fb = FeatureBaseline(
        name="c",
        kind="categorical",
        categories={c: int(v) for c, v in zip(names, ref, strict=True) if v},
        count=200,
    )
    cur = g.multinomial(14, p)
    counts = {c: int(v) for c, v in zip(names, cur, strict=True) if v}
    cc = CategoryCounts(cap=510)
    cc.update_counts({**counts, "unseen": 6})
    res = compare(fb, cc)
    assert res.min_detectable_effect == np.inf  # nothing else is measurable at this n
    assert decide({"c": res})["c"].status == "drift"
    cc = CategoryCounts(cap=510)
    cc.update_counts(counts)
    assert decide({"c": compare(fb, cc)})["c"].status == "insufficient_data"
