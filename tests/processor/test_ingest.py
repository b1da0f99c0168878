"""Ingestion of OTLP metrics, spans and logs: what each carries, and every refused point."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from opentelemetry.proto.metrics.v1 import metrics_pb2

from otelml import semconv
from otelml.processor.receive.ingest import ingest_metrics
from otelml.processor.receive.logs import ingest_logs
from otelml.processor.receive.series import IngestOptions
from otelml.processor.receive.spans import ingest_spans
from otelml.processor.state.aggregator import PREDICTION_FEATURE, SeriesKey
from otelml.processor.state.observations import CATEGORY, INVALID, MISSING, NUMERIC, ROWS
from otelml.processor.state.temporality import ExpoPoint, HistPoint
from otelml.processor.state.updates import to_updates

from .otlpdata import (
    CUMULATIVE,
    NS,
    expo_metric,
    hist_metric,
    log_record,
    logs_request,
    metrics_request,
    model_attrs,
    span,
    sum_metric,
    traces_request,
)

OPTS = IngestOptions(max_attribute_length=64)
NOW = time.time()
T = int(NOW * NS)
AMOUNT = model_attrs(feature="amount")


def ingest(*metrics: metrics_pb2.Metric) -> object:
    return ingest_metrics(metrics_request(*metrics), OPTS, NOW)


def test_every_contract_metric_becomes_an_observation() -> None:
    base = model_attrs()
    res = ingest_metrics(
        metrics_request(
            hist_metric(
                semconv.FEATURE_VALUES.name, [(AMOUNT, [0.0, 1.0], [1, 2, 3], 7.5)], time_ns=T
            ),
            expo_metric(
                semconv.PREDICTION_VALUES.name, base, scale=2, offset=-3, counts=[1, 1], time_ns=T
            ),
            sum_metric(
                semconv.FEATURE_CATEGORY_COUNT.name,
                [(model_attrs(feature="c", **{semconv.FEATURE_CATEGORY: "US"}), 4)],
                time_ns=T,
            ),
            sum_metric(semconv.FEATURE_MISSING.name, [(AMOUNT, 2)], time_ns=T),
            sum_metric(
                semconv.FEATURE_INVALID.name,
                [({**AMOUNT, semconv.QUALITY_ISSUE: "nan"}, 1)],
                time_ns=T,
            ),
            sum_metric(
                semconv.PREDICTION_LABEL_COUNT.name,
                [({**base, semconv.PREDICTION_LABEL: "1"}, 3)],
                time_ns=T,
            ),
            sum_metric(semconv.PREDICTION_COUNT.name, [(base, 5)], time_ns=T),
            sum_metric("http.server.requests", [({"route": "/"}, 9)]),  # not ours
        ),
        OPTS,
        NOW,
    )
    assert (res.items, res.ours, res.rejected) == (8, 7, 0)
    kinds = [(o.key.feature, o.kind, o.label) for o in res.observations]
    assert kinds == [
        ("amount", NUMERIC, ""),
        (PREDICTION_FEATURE, NUMERIC, ""),
        ("c", CATEGORY, "US"),
        ("amount", MISSING, ""),
        ("amount", INVALID, "nan"),
        (PREDICTION_FEATURE, CATEGORY, "1"),
        (PREDICTION_FEATURE, ROWS, ""),
    ]
    assert all(o.stream is None for o in res.observations)  # delta temporality
    assert isinstance(res.observations[0].value, HistPoint)
    assert isinstance(res.observations[1].value, ExpoPoint)

    ups = {u.key.feature: u.delta for u in to_updates(
        [(o.key, o.window_start, o.kind, o.label, o.value) for o in res.observations], 100
    )}  # fmt: skip
    amount = ups["amount"]
    np.testing.assert_array_equal(amount.numeric.counts, [1, 2, 3])
    assert (amount.missing, amount.invalid, amount.rows) == (2, {"nan": 1}, 9)
    pred = ups[PREDICTION_FEATURE]
    assert pred.rows == 5  # rows come from ml.prediction.count only
    assert pred.numeric.count == 2
    assert pred.categories.counts == {"1": 3}
    assert ups["c"].categories.counts == {"US": 4}


def test_cumulative_points_get_stream_ids_keyed_by_resource_and_start_time() -> None:
    def obs(resource: dict[str, str], start: int) -> str | None:
        req = metrics_request(
            sum_metric(
                semconv.FEATURE_MISSING.name, [(AMOUNT, 1)], temporality=CUMULATIVE, start_ns=start
            ),
            resource=resource,
        )
        return ingest_metrics(req, OPTS, NOW).observations[0].stream

    a = obs({"service.instance.id": "a"}, 1)
    assert a is not None
    assert a == obs({"service.instance.id": "a"}, 1)
    assert a != obs({"service.instance.id": "b"}, 1)
    assert a != obs({"service.instance.id": "a"}, 2)


def test_window_is_the_point_time_or_receive_time() -> None:
    res = ingest(sum_metric(semconv.FEATURE_MISSING.name, [(AMOUNT, 1)], time_ns=T - 3600 * NS))
    assert res.observations[0].window_start == (int(NOW - 3600) // 60) * 60
    res = ingest(sum_metric(semconv.FEATURE_MISSING.name, [(AMOUNT, 1)], time_ns=0))
    assert res.observations[0].window_start == (int(NOW) // 60) * 60


def _bad_hist(**fields: object) -> metrics_pb2.Metric:
    m = hist_metric(semconv.FEATURE_VALUES.name, [(AMOUNT, [0.0, 1.0], [1, 2, 3], 1.0)])
    dp = m.histogram.data_points[0]
    for k, v in fields.items():
        if k in ("explicit_bounds", "bucket_counts"):
            del getattr(dp, k)[:]
            getattr(dp, k).extend(v)  # type: ignore[attr-defined]
        else:
            setattr(dp, k, v)
    return m


def _gauge() -> metrics_pb2.Metric:
    m = metrics_pb2.Metric(name=semconv.FEATURE_MISSING.name)
    m.gauge.data_points.add(as_int=1).attributes.extend(
        sum_metric("x", [(AMOUNT, 1)]).sum.data_points[0].attributes
    )
    return m


def _summary() -> metrics_pb2.Metric:
    m = metrics_pb2.Metric(name=semconv.FEATURE_VALUES.name)
    m.summary.data_points.add(count=1, sum=1.0)
    return m


BAD = {
    "nan sum": (_bad_hist(sum=math.nan), "sum must be finite"),
    "inf sum": (_bad_hist(sum=math.inf), "sum must be finite"),
    "inf min": (_bad_hist(min=-math.inf), "min must be finite"),
    "bounds not increasing": (_bad_hist(explicit_bounds=[1.0, 0.0]), "increasing"),
    "nan bound": (_bad_hist(explicit_bounds=[0.0, math.nan]), "increasing"),
    "bucket count length": (_bad_hist(bucket_counts=[1, 2]), "len(explicit_bounds) + 1"),
    "count mismatch": (_bad_hist(count=99), "count differs"),
    "gauge": (_gauge(), "unsupported metric kind gauge"),
    "summary": (_summary(), "unsupported metric kind summary"),
    "negative counter": (sum_metric(semconv.FEATURE_MISSING.name, [(AMOUNT, -1)]), ">= 0"),
    "fractional counter": (
        sum_metric(semconv.FEATURE_MISSING.name, [(AMOUNT, 1.5)]),
        "whole number",
    ),
    "nan counter": (sum_metric(semconv.FEATURE_MISSING.name, [(AMOUNT, math.nan)]), "finite"),
    "no model": (
        sum_metric(semconv.FEATURE_MISSING.name, [({semconv.FEATURE_NAME: "a"}, 1)]),
        "ml.model.name missing",
    ),
    "no feature": (sum_metric(semconv.FEATURE_MISSING.name, [(model_attrs(), 1)]), "missing"),
    "reserved feature": (
        sum_metric(semconv.FEATURE_MISSING.name, [(model_attrs(feature=PREDICTION_FEATURE), 1)]),
        "reserved",
    ),
    "no category": (sum_metric(semconv.FEATURE_CATEGORY_COUNT.name, [(AMOUNT, 1)]), "missing"),
    "huge string": (
        sum_metric(semconv.FEATURE_MISSING.name, [(model_attrs(feature="x" * 10_000), 1)]),
        "longer than 64",
    ),
    "non-string model": (
        sum_metric(semconv.FEATURE_MISSING.name, [({**AMOUNT, semconv.MODEL_NAME: 3}, 1)]),
        "expected a string",
    ),
    "future": (
        sum_metric(semconv.FEATURE_MISSING.name, [(AMOUNT, 1)], time_ns=T + 86400 * NS),
        "future",
    ),
    "too old": (
        sum_metric(semconv.FEATURE_MISSING.name, [(AMOUNT, 1)], time_ns=T - 30 * 86400 * NS),
        "retention",
    ),
    "expo scale": (
        expo_metric(semconv.FEATURE_VALUES.name, AMOUNT, scale=30, offset=0, counts=[1]),
        "scale",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_each_bad_point_is_refused_alone(case: str) -> None:
    bad, message = BAD[case]
    good = sum_metric(semconv.FEATURE_MISSING.name, [(AMOUNT, 1)])
    res = ingest(good, bad)
    assert res.rejected == 1
    assert message in res.error_message
    assert len(res.observations) == 1  # the good point still goes in


def test_unset_temporality_refuses_the_metric() -> None:
    m = sum_metric(semconv.FEATURE_MISSING.name, [(AMOUNT, 1), (AMOUNT, 2)])
    m.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_UNSPECIFIED
    res = ingest(m)
    assert (res.rejected, res.reasons) == (2, {"invalid_point": 2})


def test_spans_give_the_same_distributions() -> None:
    features = {semconv.feature_attribute(f"f{j}"): float(j) for j in range(25)}
    spans = [
        span(
            {
                **features,
                semconv.feature_attribute("country"): "US" if i % 2 else "FR",
                semconv.feature_attribute("bad"): math.nan,
                semconv.feature_attribute("flag"): True,
                semconv.segment_attribute("device"): "ios",
                semconv.PREDICTION_VALUE: 0.25,
                semconv.PREDICTION_LABEL: "1",
                semconv.BATCH_SIZE: 1,
                semconv.MODEL_VERSION: "1",
                semconv.MODEL_NAME: "fraud",
            },
            end_ns=T,  # one window for all
        )
        for i in range(10)
    ]
    spans.append(span({"http.route": "/"}, name="GET /"))  # not ours
    spans.append(
        span(
            {
                semconv.MODEL_NAME: "fraud",
                semconv.AGGREGATED: True,
                semconv.feature_attribute("f0"): 1.0,
            }
        )
    )
    res = ingest_spans(traces_request(spans), OPTS, NOW)
    assert (res.items, res.ours, res.rejected) == (12, 11, 0)
    ups = {(u.key.feature, u.key.segment): u.delta for u in res.updates}
    assert ups[("f3", "")].numeric.count == 10  # the aggregated span was skipped
    assert ups[("f3", "")].numeric.sum == pytest.approx(30.0)
    assert ups[("f3", "device=ios")].numeric.count == 10
    assert ups[("country", "")].categories.counts == {"US": 5, "FR": 5}
    assert ups[("flag", "")].categories.counts == {"True": 10}  # as the client spells it
    assert ups[("bad", "")].invalid == {"nan": 10}
    assert ups[("bad", "")].rows == 10
    pred = ups[(PREDICTION_FEATURE, "")]
    assert (pred.rows, pred.numeric.count, pred.categories.counts) == (10, 10, {"1": 10})
    assert all(
        u.key == SeriesKey("fraud", "1", "production", u.key.feature, u.key.segment)
        for u in res.updates
    )


def test_a_span_with_a_huge_value_is_refused_whole() -> None:
    good = span({semconv.MODEL_NAME: "m", semconv.feature_attribute("a"): 1.0})
    bad = span(
        {
            semconv.MODEL_NAME: "m",
            semconv.feature_attribute("a"): 2.0,
            semconv.feature_attribute("b"): "x" * 1000,
        }
    )
    res = ingest_spans(traces_request([good, bad]), OPTS, NOW)
    assert res.rejected == 1
    ups = {u.key.feature: u.delta for u in res.updates}
    assert ups["a"].numeric.count == 1
    assert "b" not in ups


def test_logs_are_counted_and_returned_as_events() -> None:
    recs = [
        log_record(
            semconv.PREDICTION_EVENT,
            {semconv.MODEL_NAME: "m", semconv.PREDICTION_ID: "p1", semconv.PREDICTION_VALUE: 1.0},
        ),
        log_record(
            semconv.ACTUAL_EVENT,
            {semconv.MODEL_NAME: "m", semconv.PREDICTION_ID: "p1", semconv.ACTUAL_LABEL: "1"},
        ),
        log_record("", {"message": "hello"}),
    ]
    res = ingest_logs(logs_request(recs), OPTS, NOW)
    assert (res.items, res.ours, res.rejected, res.has_data) == (3, 2, 0, False)
    assert [e.name for e in res.events] == [semconv.PREDICTION_EVENT, semconv.ACTUAL_EVENT]
    assert res.events[1].attributes[semconv.ACTUAL_LABEL] == "1"


def test_array_valued_span_attributes_give_one_value_per_element() -> None:
    s = span(
        {
            semconv.MODEL_NAME: "m",
            semconv.BATCH_SIZE: 3,
            semconv.feature_attribute("a"): [1.0, 2.0, math.inf],
            semconv.feature_attribute("c"): ["x", "y", "x"],
            semconv.PREDICTION_VALUE: [0.1, 0.2, 0.3],
        }
    )
    res = ingest_spans(traces_request([s]), OPTS, NOW)
    ups = {u.key.feature: u.delta for u in res.updates}
    assert (ups["a"].numeric.count, ups["a"].invalid, ups["a"].rows) == (2, {"inf": 1}, 3)
    assert ups["c"].categories.counts == {"x": 2, "y": 1}
    assert (ups[PREDICTION_FEATURE].rows, ups[PREDICTION_FEATURE].numeric.count) == (3, 3)
