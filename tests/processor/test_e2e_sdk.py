"""End to end over real sockets: the OpenTelemetry SDK's OTLP exporters → ``otelml serve``.

Metrics shaped like the telemetry contract go out through the real OTLP/gRPC and OTLP/HTTP
exporters (cumulative temporality, the SDK default, over two exports so the second is converted
to a delta; and delta temporality), spans through the gRPC span exporter; the service is then
stopped with SIGTERM and its durable state must hold exactly what was recorded.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otelml import semconv
from otelml.processor.state.aggregator import PREDICTION_FEATURE, SeriesKey

from .conftest import ServiceProcess, load_state

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EDGES = [0.0, 1.0, 2.0]


def _exporter(protocol: str, svc: ServiceProcess, delta: bool) -> Any:
    temporality = (
        {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}
        if delta
        else None
    )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter(
            endpoint=svc.grpc_endpoint, insecure=True, preferred_temporality=temporality
        )
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpExporter,
    )

    return HttpExporter(
        endpoint=svc.http_url + "/v1/metrics",
        compression=Compression.Gzip,
        preferred_temporality=temporality,
    )


def _send_metrics(protocol: str, svc: ServiceProcess, model: str, *, delta: bool) -> None:
    reader = PeriodicExportingMetricReader(
        _exporter(protocol, svc, delta), export_interval_millis=3_600_000
    )
    provider = MeterProvider(
        resource=Resource.create({"service.name": "app", "service.instance.id": model}),
        metric_readers=[reader],
    )
    meter = provider.get_meter(semconv.INSTRUMENTATION_SCOPE)
    values = meter.create_histogram(
        semconv.FEATURE_VALUES.name, explicit_bucket_boundaries_advisory=EDGES
    )
    cats = meter.create_counter(semconv.FEATURE_CATEGORY_COUNT.name)
    missing = meter.create_counter(semconv.FEATURE_MISSING.name)
    preds = meter.create_counter(semconv.PREDICTION_COUNT.name)
    base = {
        semconv.MODEL_NAME: model,
        semconv.MODEL_VERSION: "1",
        semconv.ENVIRONMENT: "production",
        semconv.SEGMENT: "",
    }
    amount = {**base, semconv.FEATURE_NAME: "amount"}
    country = {**base, semconv.FEATURE_NAME: "country"}
    # Two exports: with cumulative temporality the second carries the running totals, which
    # the processor must turn back into deltas.
    for batch in ([0.5, 1.5, 2.5, 0.0], [1.0, 3.0, 4.0]):
        for x in batch:
            values.record(x, amount)
        cats.add(2, {**country, semconv.FEATURE_CATEGORY: "US"})
        cats.add(1, {**country, semconv.FEATURE_CATEGORY: "FR"})
        missing.add(1, amount)
        preds.add(len(batch), base)
        assert provider.force_flush(10_000)
    provider.shutdown()


def _send_spans(svc: ServiceProcess, model: str) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": "app"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=svc.grpc_endpoint, insecure=True))
    )
    tracer = provider.get_tracer(semconv.INSTRUMENTATION_SCOPE)
    for i in range(20):
        with tracer.start_as_current_span(semconv.span_name(model)) as span:
            span.set_attribute(semconv.feature_attribute("amount"), float(i))
            span.set_attribute(semconv.feature_attribute("country"), "US" if i % 2 else "FR")
            span.set_attribute(semconv.PREDICTION_VALUE, i / 20)
            span.set_attribute(semconv.MODEL_VERSION, "1")
            span.set_attribute(semconv.MODEL_NAME, model)
        with tracer.start_as_current_span("unrelated") as span:
            span.set_attribute("http.route", "/x")
    provider.shutdown()


def _check_metrics(totals: dict[SeriesKey, Any], model: str) -> None:
    amount = totals[SeriesKey(model, "1", "production", "amount", "")]
    ref = np.zeros(len(EDGES) + 1, dtype=np.int64)
    np.add.at(ref, np.searchsorted(EDGES, [0.5, 1.5, 2.5, 0.0, 1.0, 3.0, 4.0], side="left"), 1)
    np.testing.assert_array_equal(amount.numeric.counts, ref)
    assert amount.numeric.sum == pytest.approx(12.5)
    assert amount.missing == 2
    country = totals[SeriesKey(model, "1", "production", "country", "")]
    assert country.categories.counts == {"US": 4, "FR": 2}
    assert totals[SeriesKey(model, "1", "production", PREDICTION_FEATURE, "")].rows == 7


def test_sdk_exporters_grpc_and_http(
    processor_service: Callable[..., ServiceProcess],
) -> None:
    svc = processor_service()
    for path in ("/healthz", "/readyz"):
        with urllib.request.urlopen(svc.metrics_url + path, timeout=10) as resp:
            assert resp.status == 200
    _send_metrics("grpc", svc, "m_grpc", delta=False)
    _send_metrics("http", svc, "m_http", delta=False)
    _send_metrics("http", svc, "m_http_delta", delta=True)
    _send_spans(svc, "m_spans")
    assert svc.terminate() == 0
    assert "otelml: stopped" in svc.lines or _stopped(svc)
    totals = load_state(svc.db_path).totals()
    for model in ("m_grpc", "m_http", "m_http_delta"):
        _check_metrics(totals, model)
    amount = totals[SeriesKey("m_spans", "1", "production", "amount", "")]
    assert amount.numeric.count == 20
    assert amount.numeric.sum == pytest.approx(sum(range(20)))
    country = totals[SeriesKey("m_spans", "1", "production", "country", "")]
    assert country.categories.counts == {"US": 10, "FR": 10}
    pred = totals[SeriesKey("m_spans", "1", "production", PREDICTION_FEATURE, "")]
    assert pred.rows == 20
    assert pred.numeric.count == 20


def _stopped(svc: ServiceProcess) -> bool:
    svc.wait_for("otelml: stopped", timeout=5)
    return True
