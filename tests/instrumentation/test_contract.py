"""Everything the instrumentation emits is in semconv and in docs/telemetry.md's table."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

import otelml.instrumentation as oi
from otelml import semconv
from otelml.testing import Capture

DOC = (Path(__file__).parents[2] / "docs" / "telemetry.md").read_text()
DOC_NAMES = set(re.findall(r"`([^`]+)`", DOC))
KNOWN_ATTRS = {
    v
    for k, v in vars(semconv).items()
    if k.isupper() and isinstance(v, str) and v.startswith(("ml.", "otelml."))
}
SPECS = {m.name: m for m in semconv.INSTRUMENTATION_METRICS}
KIND = {"Histogram": "histogram", "ExponentialHistogram": "exponential_histogram", "Sum": "counter"}


def _documented_attr(key: str) -> bool:
    for prefix, placeholder in (
        (semconv.FEATURE_PREFIX, "<feature>"),
        (semconv.SEGMENT_PREFIX, "<column>"),
    ):
        if key.startswith(prefix):
            return prefix + placeholder in DOC_NAMES
    return key in KNOWN_ATTRS and key in DOC_NAMES


def _exercise() -> None:
    f = oi.observe(
        model="contract",
        version="1",
        task="binary_classification",
        baseline={"a": [0.0, 1.0]},
        id_from="rid",
        segment_by=["c"],
        span_features=True,
        mask_features=["b"],
        outputs=lambda r: r,
    )(
        lambda x: (
            np.array([[0.4, 0.6]] * (len(x) if isinstance(x, pd.DataFrame) else 1))
            if not isinstance(x, dict)
            else 0.7
        )
    )
    f({"rid": "1", "a": 0.5, "b": None, "c": "US", "d": float("nan"), "e": "str"})
    f(
        pd.DataFrame(
            {
                "rid": ["2", "3"],
                "a": [0.1, np.inf],
                "b": [1.0, 2.0],
                "c": ["FR", "US"],
                "d": [1.0, 2.0],
                "e": ["x", 3],
            }
        )
    )
    multi = oi.observe(model="contract3", log_predictions=True, classes=["x", "y", "z"])(
        lambda rows: np.array([[0.2, 0.3, 0.5]] * len(rows))
    )
    multi([{"a": 1.0}, {"a": 2.0}])
    with np.errstate(all="ignore"):
        oi.observe(model="contract2", outputs=lambda r: 1 / 0)(lambda row: 1)({"a": "z"})
    oi.record_actuals(model="contract", version="1", ids=["1"], actuals=[1])


def test_everything_emitted_is_in_semconv_and_docs(telemetry: Capture) -> None:
    _exercise()
    points = telemetry.collect()
    assert {p.name for p in points} >= {
        m.name for m in semconv.INSTRUMENTATION_METRICS if m is not semconv.INSTRUMENTATION_DROPPED
    }
    for p in points:
        spec = SPECS[p.name]
        assert p.name in DOC_NAMES
        assert p.unit == spec.unit, p.name
        kind = KIND[p.kind]
        assert kind == spec.kind or (spec.kind == "histogram" and kind == "exponential_histogram")
        assert set(p.attributes) <= set(spec.attributes), (p.name, p.attributes)
    spans = telemetry.spans()
    assert spans
    for span in spans:
        assert span.name.startswith("predict ")
        assert "predict {model}" in DOC_NAMES
        for key in span.attributes:
            assert _documented_attr(key), key
            assert key in semconv.SPAN_ATTRIBUTES or key.startswith(
                (semconv.FEATURE_PREFIX, semconv.SEGMENT_PREFIX)
            ), key
    logs = telemetry.logs()
    assert {r.event_name for r in logs} == {semconv.PREDICTION_EVENT, semconv.ACTUAL_EVENT}
    allowed = {
        semconv.PREDICTION_EVENT: semconv.PREDICTION_EVENT_ATTRIBUTES,
        semconv.ACTUAL_EVENT: semconv.ACTUAL_EVENT_ATTRIBUTES,
    }
    for r in logs:
        assert r.event_name in DOC_NAMES
        for key in r.attributes:
            assert _documented_attr(key), key
            assert key in allowed[r.event_name] or key.startswith(semconv.SEGMENT_PREFIX), key
