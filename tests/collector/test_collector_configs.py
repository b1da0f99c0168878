"""The real OpenTelemetry Collector, run with each config in collector/configs.

Telemetry is sent with the OpenTelemetry Python SDK's OTLP exporters, as an instrumented app
would, and must arrive at in-test OTLP/gRPC sinks (standing for otelml processor replicas) or at
a real Prometheus with its attributes intact.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otelml import semconv

from .conftest import http_status, wait_until
from .otlp_sink import OtlpSink, TlsFiles, attributes

pytestmark = [
    pytest.mark.e2e,
    # the first test may build the Collector (collector/build.sh) when CI has not
    pytest.mark.timeout(1900),
]

SERVICE = "otelml-collector-test"
ARRIVAL_TIMEOUT_S = 30.0


def _resource() -> Resource:
    return Resource.create({"service.name": SERVICE, "deployment.environment.name": "test"})


def _model_attrs(model: str) -> dict[str, str]:
    return {
        semconv.MODEL_NAME: model,
        semconv.MODEL_VERSION: "3",
        semconv.ENVIRONMENT: "production",
    }


def send_telemetry(endpoint: str, models: list[str], rounds: int = 1) -> None:
    """Send, per model and round, one span, two metric points and one log record over OTLP/gRPC."""
    resource = _resource()

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True, timeout=10))
    )
    tracer = tracer_provider.get_tracer("otelml.tests.collector")

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint, insecure=True, timeout=10),
        export_interval_millis=3_600_000,  # exports happen on force_flush only
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = meter_provider.get_meter("otelml.tests.collector")
    count = meter.create_counter(semconv.PREDICTION_COUNT.name, unit="{prediction}")
    values = meter.create_histogram(semconv.FEATURE_VALUES.name, unit="1")

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True, timeout=10))
    )
    logger = logger_provider.get_logger("otelml.tests.collector")

    try:
        for i in range(rounds):
            for model in models:
                attrs = _model_attrs(model)
                with tracer.start_as_current_span(f"predict {model}", attributes=attrs) as span:
                    span.set_attribute("ml.features.age", 42.5)
                count.add(7, attrs)
                values.record(1.5, {**attrs, semconv.FEATURE_NAME: "age", semconv.SEGMENT: ""})
                logger.emit(
                    body=f"prediction {model} {i}",
                    # A complete record: the processor refuses one without a value.
                    attributes={
                        **attrs,
                        semconv.PREDICTION_ID: f"{model}-{i}",
                        semconv.PREDICTION_VALUE: 0.9,
                    },
                    event_name=semconv.PREDICTION_EVENT,
                )
            assert meter_provider.force_flush(10_000)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
        logger_provider.shutdown()


def _models_seen(sink: OtlpSink) -> dict[str, set[str]]:
    """Return, per signal, the ml.model.name values that reached ``sink``."""
    spans = {attributes(s.attributes).get(semconv.MODEL_NAME) for _, s in sink.spans()}
    metrics: set[Any] = set()
    for _, metric in sink.metrics():
        points = metric.sum.data_points if metric.HasField("sum") else metric.histogram.data_points
        metrics |= {attributes(p.attributes).get(semconv.MODEL_NAME) for p in points}
    logs = {attributes(r.attributes).get(semconv.MODEL_NAME) for _, r in sink.logs()}
    return {"traces": spans, "metrics": metrics, "logs": logs}


def _all_arrived(sinks: list[OtlpSink], models: list[str]) -> bool:
    seen: dict[str, set[str]] = {"traces": set(), "metrics": set(), "logs": set()}
    for sink in sinks:
        for signal_name, found in _models_seen(sink).items():
            seen[signal_name] |= found
    return all(set(models) <= found for found in seen.values())


def test_fanout_delivers_all_signals_to_processor_with_attributes(
    start_collector: Callable[..., Any], otlp_sinks: Callable[[str], OtlpSink]
) -> None:
    processor = otlp_sinks("processor")
    collector = start_collector(
        "fanout.yaml",
        env={
            "OTELML_PROCESSOR_ENDPOINT": processor.endpoint,
            "OTELCOL_DEBUG_VERBOSITY": "detailed",
        },
    )
    send_telemetry(collector.otlp_grpc, ["churn"])
    wait_until(
        lambda: _all_arrived([processor], ["churn"]),
        timeout=ARRIVAL_TIMEOUT_S,
        what="spans, metrics and logs at the processor",
        alive=collector.process.exit_text,
    )

    resource, span = processor.spans()[0]
    assert span.name == "predict churn"
    assert resource["service.name"] == SERVICE
    assert resource["deployment.environment.name"] == "test"
    assert attributes(span.attributes) == {**_model_attrs("churn"), "ml.features.age": 42.5}

    by_name = {m.name: m for _, m in processor.metrics()}
    counter = by_name[semconv.PREDICTION_COUNT.name]
    assert counter.sum.is_monotonic
    assert [p.as_int for p in counter.sum.data_points] == [7]
    assert attributes(counter.sum.data_points[0].attributes) == _model_attrs("churn")
    hist = by_name[semconv.FEATURE_VALUES.name].histogram.data_points[0]
    assert (hist.count, hist.sum) == (1, 1.5)
    assert attributes(hist.attributes)[semconv.FEATURE_NAME] == "age"

    _, record = processor.logs()[0]
    assert record.event_name == semconv.PREDICTION_EVENT
    assert record.body.string_value == "prediction churn 0"
    assert attributes(record.attributes)[semconv.PREDICTION_ID] == "churn-0"

    # the other branch of the fan-out: the debug exporter (the "usual backends") saw it too
    wait_until(
        lambda: "predict churn" in collector.process.log_text(),
        timeout=10,
        what="the debug exporter to print the span",
    )
    # the Collector's own telemetry answers on the loopback port the test gave it
    assert http_status(collector.telemetry_url) == 200


def test_fanout_with_bearer_token_authenticates_to_processor_over_tls(
    start_collector: Callable[..., Any],
    otlp_sinks: Callable[..., OtlpSink],
    loopback_tls: TlsFiles,
) -> None:
    processor = otlp_sinks("processor", tls=loopback_tls)
    collector = start_collector(
        "fanout.yaml",
        "processor-auth.yaml",
        env={
            "OTELML_PROCESSOR_ENDPOINT": processor.endpoint,
            "OTELML_PROCESSOR_TOKEN": "s3cret",
            "OTELML_PROCESSOR_CA_FILE": str(loopback_tls.cert),
        },
    )
    send_telemetry(collector.otlp_grpc, ["fraud"])
    wait_until(
        lambda: _all_arrived([processor], ["fraud"]),
        timeout=ARRIVAL_TIMEOUT_S,
        what="telemetry at the processor",
        alive=collector.process.exit_text,
    )
    assert processor.metadata
    assert {md.get("authorization") for md in processor.metadata} == {"Bearer s3cret"}


# Many models, so that a fair hash leaves both replicas empty-handed with probability ~1e-6
# whatever loopback ports the replicas got (the ring hashes their endpoints).
LB_MODELS = [f"model-{i:02d}" for i in range(24)]


def test_loadbalancing_routes_each_model_to_one_replica(
    start_collector: Callable[..., Any], otlp_sinks: Callable[[str], OtlpSink]
) -> None:
    replicas = [otlp_sinks("replica-1"), otlp_sinks("replica-2")]
    collector = start_collector(
        "loadbalancing.yaml",
        env={
            "OTELML_PROCESSOR_REPLICA_1": replicas[0].endpoint,
            "OTELML_PROCESSOR_REPLICA_2": replicas[1].endpoint,
        },
    )
    # three rounds in separate export requests: routing must hold across requests
    rounds = 3
    send_telemetry(collector.otlp_grpc, LB_MODELS, rounds=rounds)
    expected = rounds * len(LB_MODELS)
    wait_until(
        lambda: (
            _all_arrived(replicas, LB_MODELS)
            and sum(len(r.spans()) for r in replicas) >= expected
            and sum(len(r.logs()) for r in replicas) >= expected
        ),
        timeout=ARRIVAL_TIMEOUT_S,
        what="every model's telemetry at the replicas",
        alive=collector.process.exit_text,
    )

    seen = [_models_seen(r) for r in replicas]
    owner: dict[str, int] = {}
    for model in LB_MODELS:
        holders = {
            (signal_name, i)
            for i in range(2)
            for signal_name in seen[i]
            if model in seen[i][signal_name]
        }
        replicas_used = {i for _, i in holders}
        # spans, metrics and logs of one model all go to the same single replica
        assert len(replicas_used) == 1, f"{model} was split over replicas: {sorted(holders)}"
        assert {s for s, _ in holders} == {"traces", "metrics", "logs"}
        owner[model] = replicas_used.pop()
    assert set(owner.values()) == {0, 1}, f"one replica got every model: {owner}"

    # every span and log record of a model went to its owner, in every round, exactly once
    for i, replica in enumerate(replicas):
        owned = sorted(m for m in LB_MODELS if owner[m] == i for _ in range(rounds))
        span_models = [attributes(s.attributes)[semconv.MODEL_NAME] for _, s in replica.spans()]
        log_models = [attributes(r.attributes)[semconv.MODEL_NAME] for _, r in replica.logs()]
        assert sorted(span_models) == owned
        assert sorted(log_models) == owned


def _prom_query(base_url: str, query: str) -> list[dict[str, Any]]:
    url = f"{base_url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as resp:
        payload = json.load(resp)
    assert payload["status"] == "success", payload
    result: list[dict[str, Any]] = payload["data"]["result"]
    return result


def test_metrics_back_remote_writes_otlp_metrics_to_prometheus(
    start_collector: Callable[..., Any], prometheus_server: Any
) -> None:
    collector = start_collector(
        "metrics-back.yaml",
        env={"PROMETHEUS_REMOTE_WRITE_URL": f"{prometheus_server.url}/api/v1/write"},
    )
    # what the processor pushes: OTLP metrics with model labels
    send_telemetry(collector.otlp_grpc, ["churn"])
    counters = wait_until(
        lambda: _prom_query(prometheus_server.url, '{__name__=~"ml_prediction_count.*"}'),
        timeout=ARRIVAL_TIMEOUT_S,
        what="the OTLP-pushed counter in Prometheus",
        alive=collector.process.exit_text,
    )
    assert len(counters) == 1
    labels = counters[0]["metric"]
    assert labels["__name__"] == "ml_prediction_count_total"
    assert labels["ml_model_name"] == "churn"
    assert labels["ml_model_version"] == "3"
    assert labels["ml_environment"] == "production"
    assert labels["job"] == SERVICE
    assert float(counters[0]["value"][1]) == 7.0

    # a histogram arrives as Prometheus buckets, with the feature label
    buckets = wait_until(
        lambda: _prom_query(
            prometheus_server.url, 'ml_feature_values_bucket{ml_feature_name="age",le="+Inf"}'
        ),
        timeout=ARRIVAL_TIMEOUT_S,
        what="the OTLP-pushed histogram in Prometheus",
        alive=collector.process.exit_text,
    )
    assert [float(b["value"][1]) for b in buckets] == [1.0]
