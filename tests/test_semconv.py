"""The telemetry contract module is consistent with itself and with OTel naming rules."""

from __future__ import annotations

import re

import pytest

from otelml import semconv

# OTel attribute and metric naming: lower-case, dot-separated namespaces, snake_case components.
NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


def _attribute_constants() -> dict[str, str]:
    return {
        k: v
        for k, v in vars(semconv).items()
        if k.isupper()
        and isinstance(v, str)
        and v.startswith(("ml.", "otelml."))
        and not k.endswith(("_PREFIX", "_EVENT", "_TEMPLATE"))
    }


def test_attribute_names_follow_otel_naming() -> None:
    for const, name in _attribute_constants().items():
        assert NAME.match(name), f"{const} = {name!r}"


def test_attribute_names_are_unique() -> None:
    names = list(_attribute_constants().values())
    assert len(names) == len(set(names))


def test_dynamic_prefixes_never_collide_with_fixed_attributes() -> None:
    # A feature or segment column named like a fixed attribute must not shadow it.
    fixed = set(_attribute_constants().values())
    for prefix in (semconv.FEATURE_PREFIX, semconv.SEGMENT_PREFIX):
        assert prefix.endswith(".")
        assert not any(name.startswith(prefix) for name in fixed)
        assert prefix.rstrip(".") not in fixed


def test_metric_specs_are_well_formed_and_unique() -> None:
    names = [m.name for m in semconv.INSTRUMENTATION_METRICS]
    assert len(names) == len(set(names))
    declared = set(_attribute_constants().values())
    for spec in semconv.INSTRUMENTATION_METRICS:
        assert NAME.match(spec.name), spec.name
        assert spec.description
        assert spec.kind in ("histogram", "exponential_histogram", "counter", "gauge")
        unknown = set(spec.attributes) - declared
        assert not unknown, f"{spec.name} uses undeclared attributes {unknown}"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, ""),
        ({"country": "US"}, "country=US"),
        ({"device": "ios", "country": "US"}, "country=US,device=ios"),
    ],
)
def test_segment_key_is_sorted_and_stable(values: dict[str, str], expected: str) -> None:
    assert semconv.segment_key(values) == expected


def test_span_and_attribute_helpers() -> None:
    assert semconv.span_name("fraud") == "predict fraud"
    assert semconv.feature_attribute("amount") == "ml.features.amount"
    assert semconv.segment_attribute("country") == "ml.segments.country"
