"""Prediction / actual log records, ids for the caller, bounded queue, and instrument()."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import otelml.instrumentation as oi
from otelml import semconv
from otelml.instrumentation.logs import LOGS
from otelml.testing import Capture


def test_prediction_logs_with_given_ids_and_segments(telemetry: Capture) -> None:
    f = oi.observe(model="fraud", version="3", id_from="request_id", segment_by=["country"])(
        lambda rows: np.array([0.1, 0.9])
    )
    f(
        [
            {"request_id": "r1", "country": "US", "a": 1.0},
            {"request_id": "r2", "country": "FR", "a": 2.0},
        ]
    )
    assert oi.last_prediction_ids() == ("r1", "r2")
    logs = telemetry.logs(semconv.PREDICTION_EVENT)
    assert [
        (r.attributes[semconv.PREDICTION_ID], r.attributes[semconv.PREDICTION_VALUE]) for r in logs
    ] == [
        ("r1", 0.1),
        ("r2", 0.9),
    ]
    assert logs[0].attributes["ml.segments.country"] == "US"
    span = telemetry.spans()[0]
    assert list(span.attributes[semconv.PREDICTION_IDS]) == ["r1", "r2"]
    assert logs[0].trace_id == span.context.trace_id  # joinable to the trace
    names = {
        p.attributes[semconv.FEATURE_NAME] for p in telemetry.points(semconv.FEATURE_VALUES.name)
    }
    assert "request_id" not in names


def test_generated_ids_are_unique_and_returned(telemetry: Capture) -> None:
    f = oi.observe(model="m", log_predictions=True)(lambda rows: np.zeros(len(rows)))
    f([{"a": 1.0}] * 1000)
    ids = oi.last_prediction_ids()
    assert len(set(ids)) == 1000
    assert [r.attributes[semconv.PREDICTION_ID] for r in telemetry.logs()] == list(ids)


def test_no_prediction_logs_unless_expected(telemetry: Capture) -> None:
    oi.observe(model="m")(lambda row: 1.0)({"a": 1.0})
    assert telemetry.logs() == []


def test_record_actuals(telemetry: Capture) -> None:
    n = oi.record_actuals(model="fraud", ids=["r1", "r2", "r3"], actuals=[1, "no", 2.5])
    assert n == 3
    logs = telemetry.logs(semconv.ACTUAL_EVENT)
    assert [dict(r.attributes) for r in logs] == [
        {
            semconv.MODEL_NAME: "fraud",
            semconv.PREDICTION_ID: "r1",
            semconv.ACTUAL_LABEL: "1",
            semconv.ACTUAL_VALUE: 1.0,
        },
        {semconv.MODEL_NAME: "fraud", semconv.PREDICTION_ID: "r2", semconv.ACTUAL_LABEL: "no"},
        {semconv.MODEL_NAME: "fraud", semconv.PREDICTION_ID: "r3", semconv.ACTUAL_VALUE: 2.5},
    ]
    with pytest.raises(ValueError, match="same length"):
        oi.record_actuals(model="fraud", ids=["a"], actuals=[])


def test_full_log_queue_drops_and_counts(
    telemetry: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LOGS, "max_rows", 10)
    LOGS.flush()
    f = oi.observe(model="m", log_predictions=True)(lambda rows: np.zeros(len(rows)))
    assert f([{"a": 1.0}] * 11).shape == (11,)  # model result intact
    [p] = telemetry.points(semconv.INSTRUMENTATION_DROPPED.name)
    assert (p.attributes[semconv.ERROR_KIND], p.value) == ("log_queue", 11)
    assert telemetry.logs() == []


def test_instrument_sklearn_estimator(telemetry: Capture) -> None:
    X, y = make_classification(n_samples=300, n_features=4, random_state=0)
    clf = LogisticRegression().fit(X, y)
    model = oi.instrument(clf, model="clf", version="1", feature_names=["a", "b", "c", "d"])
    proba = model.predict_proba(X)
    np.testing.assert_array_equal(proba, clf.predict_proba(X))
    np.testing.assert_array_equal(model.predict(X), clf.predict(X))
    assert model.classes_.tolist() == [0, 1]  # everything else is delegated
    spans = telemetry.spans()
    assert {s.attributes[semconv.MODEL_TASK] for s in spans} == {"binary_classification"}
    [values] = telemetry.points(semconv.PREDICTION_VALUES.name, {semconv.SEGMENT: ""})
    assert values.count == 300
    assert values.sum == pytest.approx(proba[:, 1].sum())
    labels = telemetry.points(semconv.PREDICTION_LABEL_COUNT.name, {semconv.SEGMENT: ""})
    pred = clf.predict(X)
    assert {p.attributes[semconv.PREDICTION_LABEL]: p.value for p in labels} == {
        "0": 2 * int((pred == 0).sum()),
        "1": 2 * int((pred == 1).sum()),
    }


def test_instrument_uses_feature_names_in(telemetry: Capture) -> None:
    import pandas as pd

    X, y = make_classification(
        n_samples=50, n_features=3, n_informative=2, n_redundant=0, random_state=1
    )
    clf = LogisticRegression().fit(pd.DataFrame(X, columns=["u", "v", "w"]), y)
    with pytest.warns(UserWarning, match="feature names"):  # sklearn's own, for a bare array
        oi.instrument(clf, model="clf2").decision_function(X)
    names = {
        p.attributes[semconv.FEATURE_NAME] for p in telemetry.points(semconv.FEATURE_VALUES.name)
    }
    assert names == {"u", "v", "w"}
