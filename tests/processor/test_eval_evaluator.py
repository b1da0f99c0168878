"""Evaluator: drift on the features made to drift and not on the others, with an injected clock."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from otelml.processor.evaluate.baselines import BaselineRegistry
from otelml.processor.evaluate.evaluator import Evaluator, worst_status
from otelml.processor.state.aggregator import SeriesKey
from otelml.processor.telemetry import ProcessorTelemetry

from .evaldata import MODEL, NUMERIC, T0, VERSION, current_updates, make_aggregator, make_baseline


@pytest.fixture(scope="module")
def baseline():  # type: ignore[no-untyped-def]
    return make_baseline()


@pytest.fixture
def registry() -> Iterator[BaselineRegistry]:
    reg = BaselineRegistry()
    yield reg
    reg.close()


def test_drift_only_where_made(baseline, registry: BaselineRegistry) -> None:  # type: ignore[no-untyped-def]
    registry.put(baseline)
    agg = make_aggregator(current_updates(baseline, drifted=("f1", "c0", "score")))
    tel = ProcessorTelemetry()
    ev = Evaluator(agg, registry, telemetry=tel, clock=lambda: T0)
    [res] = ev.evaluate()
    assert res.key == (MODEL, VERSION, "production")
    assert res.reference == "baseline"
    assert not res.fallback
    status = {f.feature: f.status for f in res.features}
    assert status == {"f0": "ok", "f1": "drift", "f2": "ok", "f3": "ok", "c0": "drift"}
    assert res.status == "drift"
    assert res.features_drifted == 2
    [pred] = res.prediction
    assert pred.status == "drift"
    # ranked by importance-weighted score: the two drifted features first
    assert {f.feature for f in res.features[:2]} == {"f1", "c0"}
    scores = [f.weighted_score for f in res.features]
    assert scores == sorted(scores, reverse=True)
    # every row of the window: 30 minutes x 400
    assert res.rows == 30 * 400
    snap = tel.snapshot()
    assert snap.evaluation_count == 1
    assert snap.evaluation_sum > 0


def test_no_drift_without_change(baseline, registry: BaselineRegistry) -> None:  # type: ignore[no-untyped-def]
    registry.put(baseline)
    agg = make_aggregator(current_updates(baseline, seed=7))
    [res] = Evaluator(agg, registry, clock=lambda: T0).evaluate()
    assert res.status == "ok"
    assert all(f.status == "ok" for f in (*res.features, *res.prediction))


def test_quality_ratios_and_bins(baseline, registry: BaselineRegistry) -> None:  # type: ignore[no-untyped-def]
    registry.put(baseline)
    agg = make_aggregator(current_updates(baseline, drifted=("f1",)))
    [res] = Evaluator(agg, registry, clock=lambda: T0).evaluate()
    f1 = next(f for f in res.features if f.feature == "f1")
    assert f1.quality["missing"] == pytest.approx(2 / 402)
    assert f1.reference_quality["missing"] == 0.0
    fb = baseline.features["f1"]
    assert [b.le for b in f1.bins][-1] == "+Inf"
    assert len(f1.bins) == len(fb.edges) + 1
    ref_share = np.asarray(fb.ref_counts) / sum(fb.ref_counts)
    np.testing.assert_allclose([b.reference for b in f1.bins], ref_share, rtol=1e-12)
    assert sum(b.current for b in f1.bins) == pytest.approx(1.0)
    # shifted by +1 sd: the top bin holds far more than its reference tenth
    assert f1.bins[-1].current > 2 * f1.bins[-1].reference
    c0 = next(f for f in res.features if f.feature == "c0")
    assert {b.bin for b in c0.bins} == {"a", "b", "c"}


def test_window_excludes_old_data(baseline, registry: BaselineRegistry) -> None:  # type: ignore[no-untyped-def]
    registry.put(baseline)
    # drifted data two hours ago, clean data in the last hour
    old = current_updates(baseline, drifted=("f0",), now=T0 - 7200, seed=2)
    new = current_updates(baseline, now=T0, seed=3)
    agg = make_aggregator(old + new)
    [res] = Evaluator(agg, registry, clock=lambda: T0).evaluate()
    assert {f.feature: f.status for f in res.features}["f0"] == "ok"
    [res] = Evaluator(agg, registry, clock=lambda: T0 - 7200).evaluate()
    assert {f.feature: f.status for f in res.features}["f0"] == "drift"


def test_fallback_baseline_is_reported(baseline, registry: BaselineRegistry) -> None:  # type: ignore[no-untyped-def]
    registry.put(baseline)  # 1.0.0
    agg = make_aggregator(current_updates(baseline, version="1.1.0", drifted=("f2",)))
    [res] = Evaluator(agg, registry, clock=lambda: T0).evaluate()
    assert res.version == "1.1.0"
    assert res.fallback
    assert res.baseline_version == "1.0.0"
    assert {f.feature: f.status for f in res.features}["f2"] == "drift"


def test_previous_window_as_rolling_baseline(baseline, registry: BaselineRegistry) -> None:  # type: ignore[no-untyped-def]
    # Previous hour clean, current hour f0 shifted: the rolling reference sees the change even
    # without any frozen baseline ("auto" falls back to it).
    prev = current_updates(baseline, now=T0 - 3600, minutes=30, seed=4)
    cur = current_updates(baseline, now=T0, drifted=("f0",), minutes=30, seed=5)
    agg = make_aggregator(prev + cur)
    [res] = Evaluator(agg, registry, clock=lambda: T0).evaluate()
    assert res.reference == "previous_window"
    assert res.baseline_version is None
    status = {f.feature: f.status for f in res.features}
    assert status["f0"] == "drift"
    assert status["f2"] == "ok"
    assert status["c0"] == "ok"
    # "baseline" mode with no baseline: nothing to compare against
    [res] = Evaluator(agg, registry, clock=lambda: T0, reference="baseline").evaluate()
    assert res.reference == "none"
    assert res.status == "insufficient_data"
    # forced rolling mode with a frozen baseline present uses the frozen bins
    registry.put(baseline)
    [res] = Evaluator(agg, registry, clock=lambda: T0, reference="previous_window").evaluate()
    assert res.reference == "previous_window"
    f0 = next(f for f in res.features if f.feature == "f0")
    assert len(f0.bins) == len(baseline.features["f0"].edges) + 1


def test_segments_evaluated_separately(baseline, registry: BaselineRegistry) -> None:  # type: ignore[no-untyped-def]
    registry.put(baseline)
    ups = current_updates(baseline, segment="country=US", drifted=("f0",), seed=8)
    ups += current_updates(baseline, segment="country=FR", seed=9)
    ups += current_updates(baseline, seed=10)
    agg = make_aggregator(ups)
    [res] = Evaluator(agg, registry, clock=lambda: T0).evaluate()
    seg = {(f.segment, f.feature): f.status for f in res.segments}
    assert seg[("country=US", "f0")] == "drift"
    assert seg[("country=FR", "f0")] == "ok"
    assert {f.feature: f.status for f in res.features}["f0"] == "ok"
    assert {p.segment for p in res.prediction} == {"", "country=US", "country=FR"}


def test_history_and_intervals(baseline, registry: BaselineRegistry) -> None:  # type: ignore[no-untyped-def]
    registry.put(baseline)
    now = [T0]
    agg = make_aggregator(current_updates(baseline, drifted=("f1",)))
    ev = Evaluator(agg, registry, clock=lambda: now[0], history_size=3)
    for _ in range(5):
        ev.evaluate()
        now[0] += 60
    hist = ev.history(SeriesKey(MODEL, VERSION, "production", "f1"))
    assert len(hist) == 3
    assert [h.time for h in hist] == [T0 + 120, T0 + 180, T0 + 240]
    assert all(h.status == "drift" for h in hist)
    # only_due: nothing is due again before the interval (60 s) has passed
    now[0] -= 30
    assert ev.evaluate(only_due=True) == []
    now[0] += 30
    assert len(ev.evaluate(only_due=True)) == 1


def test_missing_feature_in_baseline_is_insufficient(baseline, registry: BaselineRegistry) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    trimmed = dataclasses.replace(
        baseline, features={k: v for k, v in baseline.features.items() if k != "f2"}
    )
    registry.put(trimmed)
    agg = make_aggregator(current_updates(baseline))
    [res] = Evaluator(agg, registry, clock=lambda: T0).evaluate()
    f2 = next(f for f in res.features if f.feature == "f2")
    assert f2.status == "insufficient_data"
    assert f2.drift is None
    assert res.status == "ok"


def test_worst_status() -> None:
    assert worst_status([]) == "insufficient_data"
    assert worst_status(["insufficient_data", "ok"]) == "ok"
    assert worst_status(["ok", "warning", "insufficient_data"]) == "warning"
    assert worst_status(["warning", "drift"]) == "drift"


def test_unknown_reference_rejected(registry: BaselineRegistry) -> None:
    agg = make_aggregator([])
    with pytest.raises(ValueError, match="reference"):
        Evaluator(agg, registry, reference="yesterday")  # type: ignore[arg-type]


def test_numeric_features_are_all_there(baseline, registry: BaselineRegistry) -> None:  # type: ignore[no-untyped-def]
    registry.put(baseline)
    agg = make_aggregator(current_updates(baseline))
    [res] = Evaluator(agg, registry, clock=lambda: T0).evaluate()
    assert {f.feature for f in res.features} == {*NUMERIC, "c0"}


def test_results_of_models_without_recent_data_are_dropped(
    baseline, registry: BaselineRegistry
) -> None:  # type: ignore[no-untyped-def]
    registry.put(baseline)
    now = [T0]
    agg = make_aggregator(current_updates(baseline, minutes=5))
    ev = Evaluator(agg, registry, clock=lambda: now[0])
    assert len(ev.evaluate()) == 1
    generation = ev.generation
    now[0] += 2 * 3600  # the data has left the one-hour window
    assert ev.evaluate() == []
    assert ev.latest() == {}
    assert ev.generation > generation


def test_quality_issues_reach_the_evaluation(baseline, registry: BaselineRegistry) -> None:  # type: ignore[no-untyped-def]
    from otelml.processor.state.aggregator import FeatureWindow, Update

    registry.put(baseline)
    ups = current_updates(baseline, minutes=10)
    # 10 % of f0's rows were NaN and 5 % of the wrong type, counted apart by the app
    bad = FeatureWindow(invalid={"nan": 450, "type_mismatch": 225}, rows=675)
    ups.append(Update(SeriesKey(MODEL, VERSION, "production", "f0"), int(T0) - 60, bad))
    agg = make_aggregator(ups)
    [res] = Evaluator(agg, registry, clock=lambda: T0).evaluate()
    f0 = next(f for f in res.features if f.feature == "f0")
    rows = 10 * 402 + 675
    assert f0.rows == rows
    assert f0.quality["nan"] == pytest.approx(450 / rows)
    assert f0.quality["type_mismatch"] == pytest.approx(225 / rows)
    assert f0.quality["missing"] == pytest.approx(20 / rows)
    assert f0.reference_quality["nan"] == 0.0
    assert f0.quality_status == "alert"
    f2 = next(f for f in res.features if f.feature == "f2")
    # 2 missing per 402 rows (0.5 %) vs none in the reference: below the 1-point margin
    assert f2.quality_status == "ok"
    c0 = next(f for f in res.features if f.feature == "c0")
    assert c0.quality["new_category"] == 0.0
