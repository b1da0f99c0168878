"""Config validation, span feature allowlist/masking/hashing/truncation, and cardinality caps."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

import otelml.instrumentation as oi
from otelml import semconv
from otelml.instrumentation.config import ConfigError
from otelml.testing import Capture


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"model": ""}, "model"),
        ({"model": "m", "environment": "prod"}, "environment"),
        ({"model": "m", "task": "ranking"}, "task"),
        ({"model": "m", "max_categories": 0}, "max_categories"),
        ({"model": "m", "segment_by": [1]}, "segment_by"),
        ({"model": "m", "inputs": 3}, "inputs"),
        ({"model": "m", "baseline": {"a": [2.0, 1.0]}}, "baseline"),
        ({"model": "m", "baseline": "no/such/file.json"}, "baseline"),
    ],
)
def test_bad_options_fail_at_decoration_naming_the_option(kwargs: Any, option: str) -> None:
    with pytest.raises(ConfigError, match=option):
        oi.observe(**kwargs)


def test_environment_variables_are_defaults_and_arguments_win(
    monkeypatch: pytest.MonkeyPatch, telemetry: Capture
) -> None:
    monkeypatch.setenv("OTELML_ENVIRONMENT", "shadow")
    monkeypatch.setenv("OTELML_MODEL_VERSION", "9")
    oi.observe(model="env")(lambda r: 1.0)({"a": 1.0})
    oi.observe(model="env", environment="training", version="1")(lambda r: 1.0)({"a": 1.0})
    got = {
        (s.attributes[semconv.ENVIRONMENT], s.attributes[semconv.MODEL_VERSION])
        for s in telemetry.spans()
    }
    assert got == {("shadow", "9"), ("training", "1")}
    monkeypatch.setenv("OTELML_MAX_CATEGORIES", "zero")
    with pytest.raises(ConfigError, match="OTELML_MAX_CATEGORIES"):
        oi.observe(model="env")


def test_span_features_allowlist_mask_hash_truncate(telemetry: Capture) -> None:
    f = oi.observe(
        model="pii",
        span_features=["amount", "email", "ssn", "note"],
        mask_features=["ssn"],
        hash_features=["email"],
        max_string_length=8,
    )(lambda row: 0.5)
    f({"amount": 12.5, "email": "a@b.c", "ssn": "123-45", "note": "x" * 50, "secret": "s"})
    attrs = telemetry.spans()[0].attributes
    assert attrs["ml.features.amount"] == 12.5
    assert attrs["ml.features.ssn"] == semconv.REDACTED
    assert attrs["ml.features.email"] == "sha256:" + hashlib.sha256(b"a@b.c").hexdigest()[:16]
    assert attrs["ml.features.note"] == "x" * 8
    assert "ml.features.secret" not in attrs


def test_no_features_on_spans_by_default(telemetry: Capture) -> None:
    oi.observe(model="pii")(lambda row: 0.5)({"amount": 1.0})
    assert not [k for k in telemetry.spans()[0].attributes if k.startswith(semconv.FEATURE_PREFIX)]


def test_identity_survives_attribute_limit(
    monkeypatch: pytest.MonkeyPatch, telemetry: Capture
) -> None:
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "20")
    f = oi.observe(model="wide", span_features=True)(lambda row: 0.5)
    f({f"f{i}": float(i) for i in range(300)})
    attrs = telemetry.spans()[0].attributes
    assert attrs[semconv.MODEL_NAME] == "wide"
    assert attrs[semconv.ENVIRONMENT] == "production"
    assert len(attrs) <= 128


def test_category_cap_overflows_into_other(telemetry: Capture) -> None:
    f = oi.observe(model="cap", max_categories=3)(lambda rows: [0.0] * len(rows))
    f([{"city": f"c{i % 10}"} for i in range(100)])
    pts = telemetry.points(semconv.FEATURE_CATEGORY_COUNT.name, {semconv.SEGMENT: ""})
    got = {p.attributes[semconv.FEATURE_CATEGORY]: p.value for p in pts}
    assert len(got) == 4
    assert got[semconv.OTHER_CATEGORY] == 70
    assert sum(got.values()) == 100


def test_segment_cap_and_segment_keys(telemetry: Capture) -> None:
    f = oi.observe(model="seg", segment_by=["country", "device"], max_segments=2)(
        lambda rows: [0.0] * len(rows)
    )
    f([{"country": c, "device": "ios", "x": 1.0} for c in ["US", "FR", "DE", "US", "IT"]])
    pts = telemetry.points(semconv.PREDICTION_COUNT.name)
    got = {p.attributes[semconv.SEGMENT]: p.value for p in pts}
    assert got[""] == 5
    assert got["country=DE,device=ios"] == 1
    assert got["country=FR,device=ios"] == 1
    assert got[semconv.OVERFLOW_VALUE] == 3
    assert len(got) == 4


def test_feature_cap(telemetry: Capture) -> None:
    f = oi.observe(model="many", max_features=5)(lambda row: 0.0)
    f({f"f{i}": float(i) for i in range(8)})
    names = {
        p.attributes[semconv.FEATURE_NAME] for p in telemetry.points(semconv.FEATURE_VALUES.name)
    }
    assert names == {"f0", "f1", "f2", "f3", "f4", semconv.OVERFLOW_VALUE}
