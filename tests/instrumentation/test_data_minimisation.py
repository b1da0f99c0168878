"""No raw string feature value leaves the host unless the user opts in (docs/telemetry.md).

Masking and hashing apply to every signal: metric attributes (category counts, segments),
spans, prediction log records; the model's exception is recorded without its message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest

import otelml.instrumentation as oi
from otelml import semconv
from otelml.instrumentation.protect import category_hash, hashed_baseline
from otelml.testing import Capture

SSN, EMAIL, REGION = "123-45-6789", "ann@example.com", "north-secret"


def _exported_strings(telemetry: Capture) -> list[str]:
    """Every string attribute value, span name, event and status text that was exported."""
    out: list[str] = []

    def add(attrs: Any) -> None:
        for v in dict(attrs or {}).values():
            vals: Iterable[Any] = v if isinstance(v, (list, tuple)) else (v,)
            out.extend(str(x) for x in vals)

    for span in telemetry.spans():
        out.append(span.name)
        add(span.attributes)
        out.append(str(span.status.description))
        for event in span.events:
            add(event.attributes)
    for record in telemetry.logs():
        add(record.attributes)
        out.append(str(record.body))
    for point in telemetry.collect():
        add(point.attributes)
    return out


def _leaks(telemetry: Capture, *secrets: str) -> list[str]:
    return [s for s in _exported_strings(telemetry) if any(x in s for x in secrets)]


def _categories(telemetry: Capture, feature: str) -> dict[str, int]:
    return {
        p.attributes[semconv.FEATURE_CATEGORY]: p.point.value
        for p in telemetry.collect()
        if p.name == semconv.FEATURE_CATEGORY_COUNT.name
        and p.attributes.get(semconv.FEATURE_NAME) == feature
        and p.attributes.get(semconv.SEGMENT) == ""
    }


_MODELS = iter(range(1_000_000))


def _observe(**options: Any) -> Any:
    # A model name per decorator: decorators of one model share its aggregator.
    model = f"pii-{next(_MODELS)}"
    options.setdefault("task", "binary_classification")
    return oi.observe(model=model, **options)


def _predict(**options: Any) -> Any:
    return _observe(**options)(lambda rows: 0.25)


def test_by_default_string_values_go_out_hashed_on_every_signal(telemetry: Capture) -> None:
    predict = _predict(segment_by=["region"], span_features=True, log_predictions=True)
    predict({"ssn": SSN, "email": EMAIL, "region": REGION, "amount": 3.5})
    predict(
        {
            "ssn": np.array([SSN, "987-65-4321"], dtype=object),
            "email": np.array([EMAIL, None], dtype=object),
            "region": np.array([REGION, REGION]),
            "amount": np.array([1.0, 2.0]),
        }
    )
    assert _leaks(telemetry, SSN, EMAIL, REGION, "987-65-4321") == []
    cats = _categories(telemetry, "email")
    assert cats == {category_hash(EMAIL): 2}  # drift still works: same value, same category
    assert len(telemetry.points(semconv.FEATURE_MISSING.name, {semconv.FEATURE_NAME: "email"}))
    [missing] = telemetry.points(
        semconv.FEATURE_MISSING.name, {semconv.FEATURE_NAME: "email", semconv.SEGMENT: ""}
    )
    assert missing.value == 1
    span = telemetry.spans()[0]
    assert span.attributes[semconv.feature_attribute("ssn")] == category_hash(SSN)
    assert span.attributes[semconv.feature_attribute("amount")] == 3.5  # numbers stay numbers


def test_the_salt_changes_every_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELML_HASH_SALT", "pepper")
    salted = category_hash(SSN)
    expected = "sha256:" + hashlib.sha256(("pepper" + SSN).encode()).hexdigest()[:16]
    assert salted == expected
    monkeypatch.delenv("OTELML_HASH_SALT")
    assert category_hash(SSN) != salted


def test_metrics_use_the_deployment_salt(
    monkeypatch: pytest.MonkeyPatch, telemetry: Capture
) -> None:
    monkeypatch.setenv("OTELML_HASH_SALT", "replica-shared")
    _predict()({"email": EMAIL})
    _predict()({"email": EMAIL})  # another decorator, as on another replica: the same category
    hashed = category_hash(EMAIL, "replica-shared")
    points = telemetry.points(semconv.FEATURE_CATEGORY_COUNT.name, {semconv.SEGMENT: ""})
    assert [p.attributes[semconv.FEATURE_CATEGORY] for p in points] == [hashed, hashed]
    assert hashed != category_hash(EMAIL, "")


def test_raw_categories_opt_in_keeps_readable_values(telemetry: Capture) -> None:
    _predict(raw_categories=["region"], segment_by=["region"])({"region": "eu", "ssn": SSN})
    assert _categories(telemetry, "region") == {"eu": 1}
    assert _categories(telemetry, "ssn") == {category_hash(SSN): 1}
    segs = {p.attributes.get(semconv.SEGMENT, "") for p in telemetry.collect()}
    assert semconv.segment_key({"region": "eu"}) in segs


def test_raw_categories_true_and_environment(
    monkeypatch: pytest.MonkeyPatch, telemetry: Capture
) -> None:
    _predict(raw_categories=True)({"ssn": SSN})
    assert _categories(telemetry, "ssn") == {SSN: 1}
    telemetry.clear()
    monkeypatch.setenv("OTELML_RAW_CATEGORIES", "*")
    oi.observe(model="pii-env")(lambda r: 1.0)({"colour": "red"})
    assert "red" in {
        p.attributes.get(semconv.FEATURE_CATEGORY)
        for p in telemetry.collect()
        if p.attributes.get(semconv.MODEL_NAME) == "pii-env"
    }


def test_masked_feature_counts_presence_and_missing_but_no_values(telemetry: Capture) -> None:
    predict = _predict(raw_categories=True, mask_features=["ssn"], segment_by=["ssn"])
    predict({"ssn": np.array([SSN, "987-65-4321", None], dtype=object)})
    assert _categories(telemetry, "ssn") == {semconv.REDACTED: 2}
    [missing] = telemetry.points(
        semconv.FEATURE_MISSING.name, {semconv.FEATURE_NAME: "ssn", semconv.SEGMENT: ""}
    )
    assert missing.value == 1
    assert _leaks(telemetry, SSN, "987-65-4321") == []
    segs = {p.attributes.get(semconv.SEGMENT, "") for p in telemetry.collect()} - {""}
    assert segs == {semconv.segment_key({"ssn": semconv.REDACTED})}


def test_hash_features_overrides_raw_categories_on_metrics(telemetry: Capture) -> None:
    _predict(raw_categories=True, hash_features=["email"])({"email": EMAIL, "plan": "gold"})
    assert _categories(telemetry, "email") == {category_hash(EMAIL): 1}
    assert _categories(telemetry, "plan") == {"gold": 1}


def test_segment_values_are_protected_on_spans_logs_and_metrics(telemetry: Capture) -> None:
    predict = _predict(segment_by=["region"], id_from="rid", raw_categories=["plan"])
    predict({"rid": "r1", "region": REGION, "plan": "gold"})
    predict({"rid": np.array(["r2", "r3"]), "region": np.array([REGION, "south"])})
    assert _leaks(telemetry, REGION, "south") == []
    [log, *_] = telemetry.logs(semconv.PREDICTION_EVENT)
    assert log.attributes[semconv.segment_attribute("region")] == category_hash(REGION)
    span = telemetry.spans()[0]
    assert span.attributes[semconv.segment_attribute("region")] == category_hash(REGION)


def test_prediction_labels_stay_raw_by_default(telemetry: Capture) -> None:
    _observe(id_from="rid", task="multiclass_classification")(lambda r: "approved")(
        {"rid": "1", "x": 1.0}
    )
    assert "approved" in _exported_strings(telemetry)


def test_prediction_labels_listed_are_hashed_everywhere(telemetry: Capture) -> None:
    label = semconv.PREDICTION_LABEL
    predict = _observe(id_from="rid", task="multiclass_classification", hash_features=[label])
    predict(lambda r: "approved")({"rid": "1", "x": 1.0})
    assert _leaks(telemetry, "approved") == []
    hashed = category_hash("approved")
    [point] = telemetry.points(semconv.PREDICTION_LABEL_COUNT.name, {semconv.SEGMENT: ""})
    assert point.attributes[label] == hashed
    assert telemetry.logs()[0].attributes[label] == hashed
    assert telemetry.spans()[0].attributes[label] == hashed


def test_exception_is_recorded_without_the_row(telemetry: Capture) -> None:
    def model(row: dict[str, Any]) -> float:
        raise ValueError(f"bad row {row!r}")

    with pytest.raises(ValueError, match="bad row"):
        _observe()(model)({"ssn": SSN})
    [span] = telemetry.spans()
    assert _leaks(telemetry, SSN) == []
    [event] = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"] == "ValueError"
    assert "model" in event.attributes["exception.stacktrace"]  # frames are kept
    assert span.status.description == "ValueError"


def test_exception_messages_opt_in(telemetry: Capture) -> None:
    def model(row: dict[str, Any]) -> float:
        raise ValueError("visible")

    with pytest.raises(ValueError, match="visible"):
        _observe(exception_messages=True)(model)({"a": 1.0})
    [event] = [e for e in telemetry.spans()[0].events if e.name == "exception"]
    assert event.attributes["exception.message"] == "visible"


def test_generator_exception_is_recorded_without_the_row(telemetry: Capture) -> None:
    @_observe()
    def stream(row: dict[str, Any]) -> Any:
        yield 0.5
        raise RuntimeError(f"stream broke on {row['ssn']}")

    with pytest.raises(RuntimeError):
        list(stream({"ssn": SSN}))
    assert _leaks(telemetry, SSN) == []


def test_decorators_of_one_model_that_disagree_on_protection_are_reported(
    telemetry: Capture,
) -> None:
    oi.observe(model="twice")(lambda r: 1.0)({"email": EMAIL})
    oi.observe(model="twice", raw_categories=True)(lambda r: 1.0)({"email": EMAIL})
    assert [kind for kind, _ in telemetry.errors] == ["protection"]
    assert _leaks(telemetry, EMAIL) == []  # the model's metrics keep the first decorator's


def test_hashed_baseline_matches_live_categories() -> None:
    import pandas as pd

    import otelml

    frame = pd.DataFrame({"plan": ["gold", "gold", "free"], "amount": [1.0, 2.0, 3.0]})
    base = otelml.build_baseline(frame, model="m", version="1")
    hashed = hashed_baseline(base)
    assert dict(hashed.features["plan"].categories) == {
        category_hash("gold"): 2,
        category_hash("free"): 1,
    }
    assert hashed.features["amount"] == base.features["amount"]
    assert dict(hashed_baseline(base, raw_categories=["plan"]).features["plan"].categories) == {
        "gold": 2,
        "free": 1,
    }
