"""A category is the same however its number was typed: ``1``, ``1.0`` and ``"1"`` meet.

The processor spells the categories it reads from typed attributes (span features and labels,
metric category and label attributes, log-record labels and classes) with
:func:`otelml._categories.canonical`, as the client does, so a baseline, the live series and the
ground-truth join agree.
"""

from __future__ import annotations

import time

import pytest

from otelml import semconv
from otelml.processor.evaluate import freeze
from otelml.processor.receive.ingest import ingest_metrics
from otelml.processor.receive.series import IngestOptions
from otelml.processor.receive.spans import ingest_spans
from otelml.processor.state.aggregator import PREDICTION_FEATURE
from otelml.processor.state.observations import CATEGORY
from otelml.processor.state.pending import parse_actual, parse_prediction
from otelml.processor.state.rows import contribution

from .otlpdata import NS, metrics_request, model_attrs, span, sum_metric, traces_request

OPTS = IngestOptions(max_attribute_length=64)
NOW = time.time()
T = int(NOW * NS)
ONE = (1, 1.0, "1")


def _span(**attrs: object) -> object:
    return span({semconv.MODEL_NAME: "m", semconv.MODEL_VERSION: "1", **attrs}, end_ns=T)


def test_a_span_label_typed_int_double_or_string_is_one_category() -> None:
    spans = [_span(**{semconv.PREDICTION_LABEL: v}) for v in ONE]
    spans.append(_span(**{semconv.PREDICTION_LABEL: True}))
    res = ingest_spans(traces_request(spans), OPTS, NOW)
    [pred] = [u.delta for u in res.updates if u.key.feature == PREDICTION_FEATURE]
    assert pred.categories.counts == {"1": 3, "True": 1}
    assert pred.numeric is None or pred.numeric.count == 0
    # Frozen from this telemetry, the prediction baseline has the one category too.
    fb = freeze.feature_baseline(PREDICTION_FEATURE, pred)
    assert fb.kind == "categorical"
    assert fb.categories == {"1": 3, "True": 1}


def test_span_booleans_and_numeric_segments_are_spelled_canonically() -> None:
    spans = [
        _span(
            **{
                semconv.feature_attribute("flag"): flag,
                semconv.segment_attribute("tier"): tier,
                semconv.PREDICTION_VALUE: 0.5,
            }
        )
        for flag, tier in ((True, 1), (False, 1.0), (True, "1"))
    ]
    res = ingest_spans(traces_request(spans), OPTS, NOW)
    ups = {(u.key.feature, u.key.segment): u.delta for u in res.updates}
    assert ups[("flag", "")].categories.counts == {"True": 2, "False": 1}
    assert ups[(PREDICTION_FEATURE, "tier=1")].rows == 3
    assert {seg for _, seg in ups} == {"", "tier=1"}


@pytest.mark.parametrize("attr", [semconv.FEATURE_CATEGORY, semconv.PREDICTION_LABEL])
def test_metric_category_attributes_typed_as_numbers_are_one_category(attr: str) -> None:
    name = (
        semconv.FEATURE_CATEGORY_COUNT.name
        if attr == semconv.FEATURE_CATEGORY
        else semconv.PREDICTION_LABEL_COUNT.name
    )
    feature = "c" if attr == semconv.FEATURE_CATEGORY else None
    points = [(model_attrs(feature=feature, **{attr: v}), 2) for v in (*ONE, True)]
    res = ingest_metrics(metrics_request(sum_metric(name, points, time_ns=T)), OPTS, NOW)
    assert res.rejected == 0
    labels = [o.label for o in res.observations if o.kind == CATEGORY]
    assert labels == ["1", "1", "1", "True"]


def _pair(pred_label: object, actual_label: object):  # type: ignore[no-untyped-def]
    p = parse_prediction(
        {
            semconv.MODEL_NAME: "m",
            semconv.PREDICTION_ID: "a",
            semconv.MODEL_TASK: "binary_classification",
            semconv.PREDICTION_VALUE: 0.9,
            semconv.PREDICTION_LABEL: pred_label,
        },
        T,
        64,
    )
    a = parse_actual(
        {semconv.MODEL_NAME: "m", semconv.PREDICTION_ID: "a", semconv.ACTUAL_LABEL: actual_label},
        T,
        64,
    )
    return contribution(p, a)


@pytest.mark.parametrize("actual_label", [*ONE, True, "true"])
@pytest.mark.parametrize("pred_label", ONE)
def test_a_joined_label_typed_int_double_or_string_is_one_class(
    pred_label: object, actual_label: object
) -> None:
    row = _pair(pred_label, actual_label)
    assert row is not None
    assert (row.kind, row.true, row.pred, row.positive) == ("binary", "1", "1", True)


def test_multiclass_classes_and_labels_typed_as_numbers_meet() -> None:
    p = parse_prediction(
        {
            semconv.MODEL_NAME: "m",
            semconv.PREDICTION_ID: "a",
            semconv.MODEL_TASK: "multiclass_classification",
            semconv.PREDICTION_SCORES: [0.1, 0.2, 0.7],
            semconv.PREDICTION_CLASSES: [0.0, 1.0, 2.0],
        },
        T,
        64,
    )
    assert p.classes == ("0", "1", "2")
    a = parse_actual(
        {semconv.MODEL_NAME: "m", semconv.PREDICTION_ID: "a", semconv.ACTUAL_LABEL: 2.0}, T, 64
    )
    row = contribution(p, a)
    assert row is not None
    assert (row.true, row.pred) == ("2", "2")


def test_a_fractional_or_non_finite_label_is_kept_or_refused_not_rounded() -> None:
    row = _pair("1", 1.0)
    assert row is not None
    assert row.true == "1"
    a = parse_actual(
        {semconv.MODEL_NAME: "m", semconv.PREDICTION_ID: "a", semconv.ACTUAL_LABEL: 2.5}, T, 64
    )
    assert a.label == "2.5"
