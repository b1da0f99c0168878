"""A real OTLP/gRPC round trip: the SDK's own exporters send otelml's telemetry to a local
receiver implementing the OTLP collector services; the wire payload carries the contract."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import numpy as np
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

import otelml.instrumentation as oi
from otelml import semconv
from otelml.instrumentation.flush import HUB
from otelml.instrumentation.logs import LOGS
from otelml.instrumentation.runtime import RUNTIME

pytestmark = pytest.mark.e2e
EDGES = [-1.0, 0.0, 1.0]


class Receiver(
    metrics_service_pb2_grpc.MetricsServiceServicer,
    trace_service_pb2_grpc.TraceServiceServicer,
    logs_service_pb2_grpc.LogsServiceServicer,
):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.metrics: list[Any] = []
        self.spans: list[Any] = []
        self.logs: list[Any] = []

    def Export(self, request: Any, context: Any) -> Any:
        with self.lock:
            if isinstance(request, metrics_service_pb2.ExportMetricsServiceRequest):
                self.metrics.append(request)
                return metrics_service_pb2.ExportMetricsServiceResponse()
            if isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
                self.spans.append(request)
                return trace_service_pb2.ExportTraceServiceResponse()
            self.logs.append(request)
            return logs_service_pb2.ExportLogsServiceResponse()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    rec = Receiver()
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(rec, server)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(rec, server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(rec, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield rec, port
    finally:
        server.stop(None)


def _attrs(kvs: Any) -> dict[str, Any]:
    out = {}
    for kv in kvs:
        field = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, field)
    return out


def test_wire_payload_carries_the_contract(receiver: tuple[Receiver, int]) -> None:
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    rec, port = receiver
    endpoint = f"127.0.0.1:{port}"
    resource = Resource.create({"service.name": "fraud-api"})
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint, insecure=True), export_interval_millis=3_600_000
    )
    mp = MeterProvider(resource=resource, metric_readers=[reader])
    lp = LoggerProvider(resource=resource)
    lp.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True))
    )
    HUB.drain_now()
    RUNTIME.use_providers(tp, mp, lp)
    try:
        rng = np.random.default_rng(3)
        amount = rng.normal(size=1000)
        f = oi.observe(
            model="fraud", version="3.2.0", baseline={"amount": EDGES}, log_predictions=True
        )(lambda rows: np.full(len(rows["amount"]), 0.25))
        f({"amount": amount, "country": rng.choice(["US", "FR"], size=1000)})
        ids = oi.last_prediction_ids()
        oi.record_actuals(model="fraud", ids=ids[:3], actuals=[0, 1, 0])
        LOGS.flush()
        tp.force_flush()
        lp.force_flush()
        mp.force_flush()
    finally:
        RUNTIME.use_providers()
        HUB.detach(mp)
        tp.shutdown()
        lp.shutdown()
        mp.shutdown()

    points = {}
    for req in rec.metrics:
        for rm in req.resource_metrics:
            assert _attrs(rm.resource.attributes)["service.name"] == "fraud-api"
            for sm in rm.scope_metrics:
                if sm.scope.name != semconv.INSTRUMENTATION_SCOPE:
                    continue
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    for p in getattr(m, kind).data_points:
                        a = _attrs(p.attributes)
                        points[
                            (m.name, a.get(semconv.FEATURE_NAME), a.get(semconv.FEATURE_CATEGORY))
                        ] = (m, p, a)
    m, p, a = points[(semconv.FEATURE_VALUES.name, "amount", None)]
    assert m.unit == semconv.FEATURE_VALUES.unit
    assert a == {
        semconv.MODEL_NAME: "fraud",
        semconv.MODEL_VERSION: "3.2.0",
        semconv.ENVIRONMENT: "production",
        semconv.FEATURE_NAME: "amount",
        semconv.SEGMENT: "",
    }
    assert list(p.explicit_bounds) == EDGES
    expected = np.histogram(amount, bins=[-np.inf, *EDGES, np.inf])[0]
    # np.histogram bins are lower-inclusive; no sample sits exactly on an edge here.
    assert not np.isin(amount, EDGES).any()
    assert list(p.bucket_counts) == expected.tolist()
    assert p.count == 1000
    assert p.sum == pytest.approx(amount.sum())
    assert m.histogram.aggregation_temporality == 2  # CUMULATIVE
    _, us, _ = points[(semconv.FEATURE_CATEGORY_COUNT.name, "country", "US")]
    _, fr, _ = points[(semconv.FEATURE_CATEGORY_COUNT.name, "country", "FR")]
    assert us.as_int + fr.as_int == 1000
    _, count, _ = points[(semconv.PREDICTION_COUNT.name, None, None)]
    assert count.as_int == 1000
    _, pv, _ = points[(semconv.PREDICTION_VALUES.name, None, None)]
    assert pv.count == 1000  # exponential histogram (no prediction baseline)

    [span] = [
        s
        for req in rec.spans
        for rs in req.resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
    ]
    sa = _attrs(span.attributes)
    assert span.name == "predict fraud"
    assert sa[semconv.BATCH_SIZE] == 1000
    assert sa[semconv.AGGREGATED] is True

    records = [
        r
        for req in rec.logs
        for rl in req.resource_logs
        for sl in rl.scope_logs
        for r in sl.log_records
    ]
    by_event: dict[str, list[Any]] = {}
    for r in records:
        by_event.setdefault(r.event_name, []).append(_attrs(r.attributes))
    assert [r[semconv.PREDICTION_ID] for r in by_event[semconv.PREDICTION_EVENT]] == list(ids)
    assert by_event[semconv.PREDICTION_EVENT][0][semconv.PREDICTION_VALUE] == 0.25
    assert [r[semconv.ACTUAL_LABEL] for r in by_event[semconv.ACTUAL_EVENT]] == ["0", "1", "0"]
