"""Counts that would overflow once merged are refused at the door and never brick the service.

Seen before: two histogram points that each passed validation (count 2**63 - 1) overflowed int64
in the merge; ``/metrics`` and ``pin`` answered 500 for every model and, after a restart,
``otelml serve`` would not start. A span with ``ml.batch.size`` 2**62 moved
``otelml_predictions_total`` by 4.6e18.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from otelml import semconv
from otelml.processor.state.aggregator import Aggregator, SeriesKey, Update
from otelml.processor.state.window import FeatureWindow

from .conftest import ServiceProcess
from .otlpdata import hist_metric, metrics_request, model_attrs, span, sum_metric, traces_request

PB = {"Content-Type": "application/x-protobuf"}
HUGE = 2**63 - 1


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=PB, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status), r.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


def _predictions_total(text: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("otelml_predictions_total{") and 'model="ovf"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_overflowing_counts_are_refused_and_the_service_stays_whole(
    processor_service: Callable[..., ServiceProcess],
) -> None:
    svc = processor_service()
    attrs = model_attrs(model="ovf", feature="x")
    fine = metrics_request(
        hist_metric(semconv.FEATURE_VALUES.name, [(attrs, [0.0, 1.0], [1, 2, 3], 4.0)]),
        sum_metric(semconv.PREDICTION_COUNT.name, [(model_attrs(model="ovf"), 6)]),
    )
    assert _post(svc.http_url + "/v1/metrics", fine.SerializeToString())[0] == 200
    for _ in range(2):
        huge = metrics_request(
            hist_metric(semconv.FEATURE_VALUES.name, [(attrs, [0.0, 1.0], [HUGE, 0, 0], 1.0)]),
            sum_metric(semconv.PREDICTION_COUNT.name, [(model_attrs(model="ovf"), HUGE)]),
        )
        status, body = _post(svc.http_url + "/v1/metrics", huge.SerializeToString())
        assert status in (200, 400)
        if status == 200:
            resp = metrics_service_pb2.ExportMetricsServiceResponse.FromString(body)
            assert resp.partial_success.rejected_data_points == 2
    batch = {**model_attrs(model="ovf"), semconv.BATCH_SIZE: 2**62}
    status, body = _post(
        svc.http_url + "/v1/traces", traces_request([span(batch)]).SerializeToString()
    )
    assert status in (200, 400)
    if status == 200:
        resp = trace_service_pb2.ExportTraceServiceResponse.FromString(body)
        assert resp.partial_success.rejected_spans == 1
    status, text = _get(svc.metrics_url + "/metrics")
    assert status == 200
    assert _predictions_total(text) == 6
    assert svc.terminate() == 0
    again = processor_service(db_path=svc.db_path)
    status, text = _get(again.metrics_url + "/metrics")
    assert status == 200
    assert _predictions_total(text) == 6


def test_the_aggregator_refuses_a_merge_past_the_count_limit() -> None:
    overflows: dict[str, int] = {}
    agg = Aggregator(60, on_overflow=lambda limit, n: overflows.update({limit: n}))
    key = SeriesKey("m", "1", "production", "x", "")
    big = FeatureWindow(rows=2**53)
    agg.apply([Update(key, 0, big)])
    agg.apply([Update(key, 0, big)])
    assert agg.totals()[key].rows == 2**53
    assert overflows == {"counts": 1}
