"""Log records of the join refused at the door: malformed ones and absurd timestamps."""

from __future__ import annotations

import time
from typing import Any

import pytest

from otelml import semconv
from otelml.processor.config import ProcessorConfig
from otelml.processor.receive.ingest import ingest_metrics
from otelml.processor.receive.logs import ingest_logs
from otelml.processor.receive.points import PointError
from otelml.processor.receive.series import IngestOptions, check_time
from otelml.processor.receive.spans import ingest_spans

from .otlpdata import (
    NS,
    log_record,
    logs_request,
    metrics_request,
    model_attrs,
    span,
    sum_metric,
    traces_request,
)

NOW = time.time()
OPTS = IngestOptions(max_attribute_length=64, horizon_s=14 * 86400, max_future_s=3600)
GOOD_P = {
    semconv.MODEL_NAME: "m",
    semconv.PREDICTION_ID: "p1",
    semconv.PREDICTION_VALUE: 0.5,
}
GOOD_A = {semconv.MODEL_NAME: "m", semconv.PREDICTION_ID: "p1", semconv.ACTUAL_LABEL: "1"}

BAD: dict[str, tuple[str, dict[str, Any], str]] = {
    "prediction without model": (
        semconv.PREDICTION_EVENT,
        {semconv.PREDICTION_ID: "x", semconv.PREDICTION_VALUE: 1.0},
        "invalid_record",
    ),
    "prediction without id": (
        semconv.PREDICTION_EVENT,
        {semconv.MODEL_NAME: "m", semconv.PREDICTION_VALUE: 1.0},
        "invalid_record",
    ),
    "prediction without output": (
        semconv.PREDICTION_EVENT,
        {semconv.MODEL_NAME: "m", semconv.PREDICTION_ID: "x"},
        "invalid_record",
    ),
    "prediction value a string": (
        semconv.PREDICTION_EVENT,
        {**GOOD_P, semconv.PREDICTION_VALUE: "high"},
        "invalid_record",
    ),
    "model name too long": (
        semconv.PREDICTION_EVENT,
        {**GOOD_P, semconv.MODEL_NAME: "m" * 65},
        "too_long",
    ),
    "actual without value": (
        semconv.ACTUAL_EVENT,
        {semconv.MODEL_NAME: "m", semconv.PREDICTION_ID: "x"},
        "invalid_record",
    ),
    "actual value infinite": (
        semconv.ACTUAL_EVENT,
        {semconv.MODEL_NAME: "m", semconv.PREDICTION_ID: "x", semconv.ACTUAL_VALUE: float("inf")},
        "invalid_record",
    ),
    "actual model a list": (
        semconv.ACTUAL_EVENT,
        {**GOOD_A, semconv.MODEL_NAME: ["a", "b"]},
        "invalid_record",
    ),
    "prediction dated 1970": (
        semconv.PREDICTION_EVENT,
        {**GOOD_P, semconv.PREDICTION_TIME: 1_000},
        "invalid_record",
    ),
    "prediction dated 2262": (
        semconv.PREDICTION_EVENT,
        {**GOOD_P, semconv.PREDICTION_TIME: 9_200_000_000_000_000_000},
        "invalid_record",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_bad_record_is_refused_alone_with_its_reason(case: str) -> None:
    event, attrs, reason = BAD[case]
    recs = [
        log_record(semconv.PREDICTION_EVENT, GOOD_P),
        log_record(event, attrs),
        log_record(semconv.ACTUAL_EVENT, GOOD_A),
        log_record("", {"message": "not ours"}),
    ]
    res = ingest_logs(logs_request(recs), OPTS, NOW)
    assert (res.items, res.rejected, res.reasons) == (4, 1, {reason: 1})
    assert [e.attributes for e in res.events] == [GOOD_P, GOOD_A]
    assert event in res.error_message


def _stamped(event: str, attrs: dict[str, Any], t_ns: int) -> Any:
    rec = log_record(event, attrs)
    rec.time_unix_nano = t_ns
    return rec


@pytest.mark.parametrize(
    ("offset_s", "ok"),
    [(-15 * 86400, False), (-13 * 86400, True), (1800, True), (7200, False)],
)
def test_record_time_must_be_within_the_horizon_and_the_future_allowance(
    offset_s: float, ok: bool
) -> None:
    t = int((NOW + offset_s) * NS)
    recs = [
        _stamped(semconv.ACTUAL_EVENT, GOOD_A, t),
        _stamped(semconv.PREDICTION_EVENT, GOOD_P, t),
    ]
    res = ingest_logs(logs_request(recs), OPTS, NOW)
    assert res.rejected == (0 if ok else 2)
    assert len(res.events) == (2 if ok else 0)


def test_prediction_time_attribute_is_what_is_checked() -> None:
    ok = {**GOOD_P, semconv.PREDICTION_TIME: int((NOW - 3600) * NS)}
    old = {**GOOD_P, semconv.PREDICTION_TIME: int((NOW - 30 * 86400) * NS)}
    res = ingest_logs(
        logs_request([log_record(semconv.PREDICTION_EVENT, a) for a in (ok, old)]), OPTS, NOW
    )
    assert (res.rejected, len(res.events)) == (1, 1)
    assert "older than" in res.error_message


def test_options_take_the_horizon_and_future_allowance_from_the_config() -> None:
    cfg = ProcessorConfig()
    opts = IngestOptions.from_config(cfg)
    assert opts.horizon_s == cfg.joins.horizon_s
    assert opts.max_future_s == cfg.limits.max_future_s


@pytest.mark.parametrize("t_ns", [1_000, 9_200_000_000_000_000_000])
def test_metric_points_and_spans_of_absurd_time_are_refused(t_ns: int) -> None:
    with pytest.raises(PointError):
        check_time(t_ns, NOW, OPTS)
    attrs = model_attrs(feature="c", **{semconv.FEATURE_CATEGORY: "US"})
    metric = sum_metric(semconv.FEATURE_CATEGORY_COUNT.name, [(attrs, 3)], time_ns=t_ns)
    res = ingest_metrics(metrics_request(metric), OPTS, NOW)
    assert (res.items, res.rejected) == (1, 1)
    spans = [
        span({semconv.MODEL_NAME: "m", semconv.feature_attribute("a"): 1.0}, end_ns=t_ns),
        span({semconv.MODEL_NAME: "m", semconv.feature_attribute("a"): 1.0}),
    ]
    res = ingest_spans(traces_request(spans), OPTS, NOW)
    assert (res.items, res.rejected) == (2, 1)
