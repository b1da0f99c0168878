"""Data quality from sketches: rates against the baseline's, with significance and margins."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from otelml.stats.baseline import FeatureBaseline
from otelml.stats.categorical import CategoryCounts
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram
from otelml.stats.quality import QualityPolicy, quality_report

EDGES = np.array([1.0, 2.0, 3.0])
NUM = FeatureBaseline(
    name="x",
    kind="numeric",
    edges=tuple(EDGES.tolist()),
    ref_counts=(250, 250, 250, 250),
    min=0.0,
    max=4.0,
    mean=2.0,
    std=1.1,
    count=1100,
    missing_rate=0.05,
    nan_rate=0.02,
)
CAT = FeatureBaseline(name="c", kind="categorical", categories={"a": 5, "b": 5}, count=10)


def _hist(values: list[float] | np.ndarray) -> FixedHistogram:
    h = FixedHistogram(EDGES)
    h.update_many(np.asarray(values, dtype=float))
    return h


def test_rates_use_rows_and_compare_with_baseline() -> None:
    vals = np.r_[np.linspace(0.1, 3.9, 880), [np.nan] * 20, [np.inf] * 50]
    rep = quality_report(NUM, _hist(vals), missing=50, type_mismatch=0)
    assert rep.rows == 1000
    assert rep.issues["missing"].current_rate == pytest.approx(0.05)
    assert rep.issues["missing"].baseline_rate == 0.05
    assert rep.issues["missing"].status == "ok"
    assert rep.issues["nan"].current_rate == pytest.approx(0.02)
    assert rep.issues["inf"].current_rate == pytest.approx(0.05)
    assert rep.issues["inf"].status == "alert"  # 5 points above a baseline of 0
    assert rep.status == "alert"
    assert rep.rates()["out_of_range"] == 0.0
    assert "new_category" not in rep.issues


def test_binomial_test_matches_scipy_and_gates_the_status() -> None:
    # 70 missing of 1000 against a 5% baseline: +2 points, p from binomtest (greater).
    vals = np.linspace(0.5, 3.5, 930)
    rep = quality_report(NUM, _hist(vals), missing=70)
    want = stats.binomtest(70, 1000, 0.05, alternative="greater").pvalue
    assert rep.issues["missing"].p_value == pytest.approx(want, rel=1e-9)
    assert rep.issues["missing"].status == "warning"
    # Same +2 points on 100 rows is not significant: ok.
    small = quality_report(NUM, _hist(np.linspace(0.5, 3.5, 93)), missing=7)
    assert small.issues["missing"].status == "ok"


def test_out_of_range_from_bins_and_window_extremes() -> None:
    # Baseline edges [1, 2, 3] with min 0, max 4: the open bins straddle min and max.
    h = _hist(np.r_[np.linspace(0.5, 3.5, 900), [-5.0] * 100])
    rep = quality_report(NUM, h)
    oor = rep.issues["out_of_range"]
    assert oor.current_rate == pytest.approx(1 / 1000)  # bins only prove "at least one"
    assert oor.details["upper_bound"] == pytest.approx(h.counts[0] / 1000)
    inside = quality_report(NUM, _hist(np.linspace(0.5, 3.5, 100)))
    assert inside.issues["out_of_range"].current_rate == 0.0
    # Baseline edges that sit at min / max resolve it exactly.
    tight = FeatureBaseline(
        name="t",
        kind="numeric",
        edges=(0.0, 2.0, 4.0),
        ref_counts=(1, 50, 49, 0),
        min=0.0,
        max=4.0,
        mean=2.0,
        std=1.0,
        count=100,
    )
    th = FixedHistogram(np.array([0.0, 2.0, 4.0]))
    th.update_many(np.r_[np.full(90, 1.0), np.full(10, 9.0)])
    assert quality_report(tight, th).issues["out_of_range"].current_rate == pytest.approx(0.1)


def test_out_of_range_from_an_exponential_histogram() -> None:
    e = ExponentialHistogram()
    e.update_many(np.r_[np.linspace(0.5, 3.5, 900), np.full(100, 50.0)])
    rep = quality_report(NUM, e)
    oor = rep.issues["out_of_range"]
    assert oor.current_rate == pytest.approx(0.1, abs=0.005)
    assert oor.details["upper_bound"] >= oor.current_rate
    assert oor.status == "alert"


def test_categorical_missing_and_new_categories() -> None:
    c = CategoryCounts()
    c.update_many(["a"] * 80 + ["b"] * 60 + ["zz"] * 40 + [None] * 20)
    rep = quality_report(CAT, c, type_mismatch=0)
    assert rep.rows == 200
    assert rep.issues["missing"].current_rate == pytest.approx(0.1)
    assert rep.issues["new_category"].current_rate == pytest.approx(0.2)
    assert rep.issues["new_category"].status == "alert"
    assert "nan" not in rep.issues
    assert "out_of_range" not in rep.issues


def test_small_window_is_insufficient_and_policy_validates() -> None:
    rep = quality_report(NUM, _hist([1.0, 2.0]), missing=50)
    assert rep.status == "insufficient_data"
    assert QualityPolicy().validate() == []
    bad = QualityPolicy(warning_increase=0.2, alert_increase=0.1, alpha=2.0, min_rows=0)
    assert len(bad.validate()) == 3
    with pytest.raises(ValueError, match="alpha"):
        quality_report(NUM, _hist([1.0]), policy=bad)
    with pytest.raises(ValueError, match="current"):
        quality_report(NUM, CategoryCounts())
    with pytest.raises(ValueError, match="current"):
        quality_report(CAT, _hist([1.0]))
    with pytest.raises(ValueError, match="non-negative"):
        quality_report(NUM, _hist([1.0]), missing=-1)
