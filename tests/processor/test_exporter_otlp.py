"""OTLP push: the same metrics reach a local OTLP/gRPC receiver (grpcio + collector stubs)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc

from otelml.processor.export import prometheus as prom
from otelml.processor.export.otlp_push import OtlpPusher, make_exporter

from .evaldata import (
    close_registries,  # noqa: F401 - autouse fixture
    current_updates,
    make_aggregator,
    make_baseline,
    make_context,
)


class _Receiver(metrics_service_pb2_grpc.MetricsServiceServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.requests: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.got = threading.Event()

    def Export(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        self.got.set()
        return metrics_service_pb2.ExportMetricsServiceResponse()


@pytest.fixture
def receiver() -> Iterator[tuple[_Receiver, str]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    rec = _Receiver()
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(rec, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield rec, f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None).wait()


def test_push_reaches_receiver(receiver, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rec, endpoint = receiver
    baseline = make_baseline(n=5000)
    ctx = make_context(
        make_aggregator(current_updates(baseline, drifted=("f1",), minutes=5)), tmp_path / "db"
    )
    ctx.registry.put(baseline)
    ctx.evaluator.evaluate()
    pusher = OtlpPusher(ctx, make_exporter(endpoint, "grpc", 5.0), interval_s=60, timeout_s=5)
    try:
        assert pusher.push_once()
    finally:
        pusher.shutdown()
    assert rec.got.wait(5)
    [req] = rec.requests
    [rm] = req.resource_metrics
    attrs = {kv.key: kv.value.string_value for kv in rm.resource.attributes}
    assert attrs["service.name"] == "otelml-processor"
    metrics = {m.name: m for sm in rm.scope_metrics for m in sm.metrics}
    # counters lose _total (a Collector's Prometheus exporter adds it back)
    assert "otelml_predictions" in metrics
    assert "otelml_predictions_total" not in metrics
    sums = metrics["otelml_predictions"].sum
    assert sums.is_monotonic
    assert sums.aggregation_temporality == 2
    assert sums.data_points[0].as_int == 5 * 400
    # the drift status gauge says the same as the exposition
    status = {
        next(a.value.string_value for a in p.attributes if a.key == "feature"): p.as_double
        for p in metrics["otelml_feature_drift_status"].gauge.data_points
    }
    assert status["f1"] == 2
    assert status["f0"] == 0
    # histograms: explicit bounds = baseline edges, bucket counts non-cumulative
    hist = metrics["otelml_feature_values"].histogram
    assert hist.aggregation_temporality == 2
    f0 = next(
        p
        for p in hist.data_points
        if {a.key: a.value.string_value for a in p.attributes}["feature"] == "f0"
    )
    assert list(f0.explicit_bounds) == list(baseline.features["f0"].edges)
    assert sum(f0.bucket_counts) == f0.count == 5 * 400
    fam = next(f for f in prom.collect(ctx) if f.metric.name == "otelml_feature_values")
    want = next(hp for hp in fam.histograms if hp.labels[3] == "f0")
    assert list(f0.bucket_counts) == list(want.counts)
    assert np.isclose(f0.sum, want.sum)


def test_push_failure_is_reported(tmp_path: Path) -> None:
    ctx = make_context(make_aggregator([]), tmp_path / "db")
    # nothing listens on port 9 (discard) on loopback; the exporter gives up within its timeout
    pusher = OtlpPusher(ctx, make_exporter("127.0.0.1:9", "grpc", 0.5), timeout_s=0.5)
    try:
        assert pusher.push_once() is False
        assert pusher.failures == 1
    finally:
        pusher.shutdown()


async def test_background_push_from_the_app(receiver, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import dataclasses

    from aiohttp.test_utils import TestClient, TestServer

    from otelml.processor.api.app import make_http_app

    rec, endpoint = receiver
    ctx = make_context(make_aggregator([]), tmp_path / "db")
    otlp = dataclasses.replace(ctx.config.export.otlp, endpoint=endpoint, interval_s=1)
    ctx.config = dataclasses.replace(
        ctx.config, export=dataclasses.replace(ctx.config.export, otlp=otlp)
    )
    ctx.telemetry.received("metrics", 7)
    async with TestClient(TestServer(make_http_app(ctx))):
        assert await asyncio.to_thread(rec.got.wait, 10)
    names = {
        m.name
        for rm in rec.requests[0].resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    assert "otelml_processor_received" in names
