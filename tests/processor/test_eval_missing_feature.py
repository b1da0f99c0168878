"""A baseline feature that stops arriving is a data-quality issue of its own: missing_feature."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from otelml.processor.evaluate.baselines import BaselineRegistry
from otelml.processor.evaluate.evaluator import QUALITY_ISSUES, Evaluator
from otelml.processor.export.prometheus import collect
from otelml.processor.state.aggregator import OVERFLOW, PREDICTION_FEATURE

from .evaldata import (
    T0,
    close_registries,  # noqa: F401  (fixture)
    current_updates,
    make_aggregator,
    make_baseline,
    make_context,
)


@pytest.fixture(scope="module")
def baseline():  # type: ignore[no-untyped-def]
    return make_baseline()


@pytest.fixture
def registry() -> Iterator[BaselineRegistry]:
    reg = BaselineRegistry()
    yield reg
    reg.close()


def _without(updates, *features):  # type: ignore[no-untyped-def]
    return [u for u in updates if u.key.feature not in features]


def test_missing_feature_is_reported_and_warns(baseline, registry) -> None:  # type: ignore[no-untyped-def]
    registry.put(baseline)
    # f2 renamed upstream: it never arrives, the others are as in the reference.
    agg = make_aggregator(_without(current_updates(baseline, seed=7), "f2"))
    [res] = Evaluator(agg, registry, clock=lambda: T0).evaluate()
    assert "missing_feature" in QUALITY_ISSUES
    f2 = next(f for f in res.features if f.feature == "f2")
    assert f2.quality["missing_feature"] == 1.0
    assert f2.status == "warning"
    assert f2.quality_status == "alert"
    assert f2.rows == 0
    assert f2.drift is None
    assert f2.kind == "numeric"
    others = [f for f in res.features if f.feature != "f2"]
    assert {f.feature for f in others} == {"f0", "f1", "f3", "c0"}
    assert all(f.quality["missing_feature"] == 0.0 for f in (*others, *res.prediction))
    assert all(f.status == "ok" for f in others)
    assert res.status == "warning"
    assert res.features_drifted == 0


def test_only_the_prediction_arriving_reports_every_feature(baseline, registry) -> None:  # type: ignore[no-untyped-def]
    registry.put(baseline)
    updates = [u for u in current_updates(baseline) if u.key.feature == PREDICTION_FEATURE]
    [res] = Evaluator(agg := make_aggregator(updates), registry, clock=lambda: T0).evaluate()
    assert agg.models()
    missing = {f.feature for f in res.features if f.quality["missing_feature"] == 1.0}
    assert missing == set(baseline.features)
    assert res.status == "warning"


def test_no_missing_feature_when_all_arrive(baseline, registry) -> None:  # type: ignore[no-untyped-def]
    registry.put(baseline)
    [res] = Evaluator(
        make_aggregator(current_updates(baseline, seed=7)), registry, clock=lambda: T0
    ).evaluate()
    assert res.status == "ok"
    assert all(f.quality["missing_feature"] == 0.0 for f in res.features)


def test_no_missing_feature_without_a_baseline(baseline, registry) -> None:  # type: ignore[no-untyped-def]
    # Without a baseline nothing says which features to expect.
    agg = make_aggregator(_without(current_updates(baseline, seed=7), "f2"))
    [res] = Evaluator(agg, registry, clock=lambda: T0).evaluate()
    assert "f2" not in {f.feature for f in res.features}


def test_a_missing_segment_feature_is_not_reported(baseline, registry) -> None:  # type: ignore[no-untyped-def]
    # A segment may lack a feature for good reasons; only the totals say it stopped arriving.
    registry.put(baseline)
    updates = current_updates(baseline, seed=7)
    updates += _without(current_updates(baseline, seed=8, segment="country=US"), "f2")
    [res] = Evaluator(make_aggregator(updates), registry, clock=lambda: T0).evaluate()
    assert res.status == "ok"
    assert ("f2", "country=US") not in {(f.feature, f.segment) for f in res.segments}


def test_no_missing_feature_when_features_overflowed(baseline, registry) -> None:  # type: ignore[no-untyped-def]
    # Beyond the feature cap names are counted under __overflow__: f2 may be among them.
    registry.put(baseline)
    agg = make_aggregator(
        [
            u._replace(key=dataclasses.replace(u.key, feature=OVERFLOW))
            if u.key.feature == "f2"
            else u
            for u in current_updates(baseline, seed=7)
        ]
    )
    [res] = Evaluator(agg, registry, clock=lambda: T0).evaluate()
    assert all(f.quality["missing_feature"] == 0.0 for f in res.features)
    assert "f2" not in {f.feature for f in res.features}


def test_missing_feature_is_exported_as_a_quality_ratio(baseline, registry, tmp_path) -> None:  # type: ignore[no-untyped-def]
    registry.put(baseline)
    agg = make_aggregator(_without(current_updates(baseline, seed=7), "f2"))
    ctx = make_context(agg, tmp_path / "db.sqlite")
    ctx.registry.put(baseline)
    assert ctx.evaluator is not None
    ctx.evaluator.evaluate(T0)
    fams = {f.metric.name: f for f in collect(ctx)}
    ratio = {(ls[3], ls[5]): v for ls, v in fams["otelml_feature_quality_ratio"].samples}
    assert ratio[("f2", "missing_feature")] == 1.0
    assert ratio[("f0", "missing_feature")] == 0.0
    status = {ls[3]: v for ls, v in fams["otelml_feature_drift_status"].samples}
    assert status["f2"] == 1
    [(_, model_status)] = fams["otelml_model_status"].samples
    assert model_status == 1
