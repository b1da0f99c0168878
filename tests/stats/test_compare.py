"""compare(): sketches lined up with their baseline, default methods, categorical union."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from otelml.semconv import OTHER_CATEGORY
from otelml.stats.baseline import FeatureBaseline
from otelml.stats.categorical import CategoryCounts
from otelml.stats.compare import DEFAULT_METHODS, compare, compare_many
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram

RNG = np.random.default_rng(8)
X = RNG.normal(10.0, 2.0, 50_000)
EDGES = np.quantile(X, np.linspace(0, 1, 11)[1:-1])
NUM = FeatureBaseline(
    name="x",
    kind="numeric",
    edges=tuple(EDGES.tolist()),
    ref_counts=tuple(np.bincount(np.searchsorted(EDGES, X), minlength=10).tolist()),
    min=float(X.min()),
    max=float(X.max()),
    mean=float(X.mean()),
    std=float(X.std()),
    count=X.size,
)
CAT = FeatureBaseline(
    name="c", kind="categorical", categories={"a": 100, "b": 300, "c": 600}, count=1000
)


def _hist(values: np.ndarray) -> FixedHistogram:
    h = FixedHistogram(EDGES)
    h.update_many(values)
    return h


def _cats(mapping: dict[str, int]) -> CategoryCounts:
    c = CategoryCounts()
    c.update_counts(mapping)
    return c


def test_numeric_default_is_wasserstein_on_baseline_edges() -> None:
    y = RNG.normal(11.0, 2.0, 5_000)
    res = compare(NUM, _hist(y))
    assert DEFAULT_METHODS["numeric"] == res.method == "wasserstein"
    # Each side's mass sits at its own per-bin representatives (the window's sum corrects the
    # current's), so the binned distance tracks the raw-data one.
    raw = stats.wasserstein_distance(X, y) / X.std()
    assert res.statistic == pytest.approx(raw, rel=0.1)
    assert res.statistic == pytest.approx(0.5, abs=0.06)  # a 0.5 std shift
    assert res.p_value is not None
    assert res.p_value < 1e-100
    assert 0 < res.min_detectable_effect < 0.2
    assert (res.n_ref, res.n_cur, res.bins) == (50_000, 5_000, 10)


def test_exponential_histogram_is_projected_with_its_error_share() -> None:
    y = RNG.normal(11.0, 2.0, 5_000)
    e = ExponentialHistogram()
    e.update_many(y)
    res = compare(NUM, e, method="ks")
    fixed = compare(NUM, _hist(y), method="ks")
    share = res.details["projection_error_share"]
    assert 0 <= share < 1
    # Misassigned values move the binned CDF by at most their share.
    assert abs(res.statistic - fixed.statistic) <= share + 1e-12


def test_categorical_union_and_new_category_share() -> None:
    cur = _cats({"a": 50, "b": 150, "c": 200, "zz": 100})
    res = compare(CAT, cur)
    assert res.method == DEFAULT_METHODS["categorical"] == "chi_square"
    assert res.new_category_share == pytest.approx(0.2)
    assert res.bins == 4
    assert math.isfinite(res.statistic)
    assert res.p_value is not None
    for method in ("psi", "kl_divergence", "jensen_shannon", "hellinger", "g_test"):
        r = compare(CAT, cur, method=method)
        assert math.isfinite(r.statistic)
        assert math.isfinite(r.effect_size)
        assert r.new_category_share == pytest.approx(0.2)


def test_only_new_categories() -> None:
    res = compare(CAT, _cats({"x": 10, "y": 5}))
    assert res.new_category_share == 1.0
    assert res.effect_size == pytest.approx(1.0)
    assert math.isfinite(res.statistic)


def test_other_bucket_is_new_unless_the_baseline_had_it() -> None:
    cur = CategoryCounts(cap=2)
    cur.update_many(["a"] * 10 + ["b"] * 10 + ["q", "r", "s", "t"])
    assert OTHER_CATEGORY in cur.counts
    assert compare(CAT, cur).new_category_share == pytest.approx(4 / 24)
    with_other = FeatureBaseline(
        name="c", kind="categorical", categories={"a": 1, "b": 1, OTHER_CATEGORY: 1}, count=3
    )
    assert compare(with_other, cur).new_category_share == 0.0


def test_empty_window_and_empty_baseline() -> None:
    assert compare(NUM, FixedHistogram(EDGES)).empty
    assert compare(CAT, CategoryCounts()).empty
    assert compare(FeatureBaseline(name="e", kind="categorical"), _cats({"a": 3})).empty
    nan_only = FeatureBaseline(name="n", kind="numeric", count=10, nan_rate=1.0)
    h = FixedHistogram(np.array([], dtype=float))
    h.update_many(np.array([np.nan, 1.0]))
    assert compare(nan_only, h).empty


def test_constant_feature() -> None:
    const = FeatureBaseline(
        name="k",
        kind="numeric",
        edges=(3.0,),
        ref_counts=(1000, 0),
        min=3.0,
        max=3.0,
        mean=3.0,
        std=0.0,
        count=1000,
    )
    same = FixedHistogram(np.array([3.0]))
    same.update_many(np.full(500, 3.0))
    assert compare(const, same).statistic == 0.0
    moved = FixedHistogram(np.array([3.0]))
    moved.update_many(np.full(500, 4.0))
    res = compare(const, moved)
    assert math.isfinite(res.statistic)
    assert res.details["scale"] == 1.0
    assert res.details["ks_statistic"] == 1.0


def test_mismatched_sketches_and_methods_raise_value_error() -> None:
    with pytest.raises(ValueError, match="current"):
        compare(NUM, _cats({"a": 1}))
    with pytest.raises(ValueError, match="current"):
        compare(CAT, _hist(X[:10]))
    with pytest.raises(ValueError, match="edges differ"):
        compare(NUM, FixedHistogram(np.array([0.0, 1.0])))
    with pytest.raises(ValueError, match="ordered bins"):
        compare(CAT, _cats({"a": 1}), method="ks")
    with pytest.raises(ValueError, match="method"):
        compare(NUM, _hist(X[:10]), method="nope")


def test_compare_many_equals_compare() -> None:
    pairs = {
        "x": (NUM, _hist(RNG.normal(10.5, 2.0, 300))),
        "c": (CAT, _cats({"a": 5, "b": 30, "new": 2})),
        "c2": (CAT, _cats({"a": 50, "b": 30, "c": 20})),
    }
    many = compare_many(pairs)
    assert list(many) == ["x", "c", "c2"]
    for name, (fb, sk) in pairs.items():
        assert many[name] == compare(fb, sk)
    psi_all = compare_many(pairs, method="psi")
    assert {r.method for r in psi_all.values()} == {"psi"}
    split = compare_many(pairs, numeric_method="ks", categorical_method="g_test")
    assert (split["x"].method, split["c"].method) == ("ks", "g_test")
