"""The service examples run as a user runs them: real processes, real sockets, output checked.

``examples/fastapi_service`` runs under uvicorn and exports OTLP/gRPC to a receiver in this test
(the processor keeps no raw spans, and the parent/child check needs them);
``examples/delayed_labels.py`` starts its own ``otelml serve`` and a second process for labels.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from sklearn.datasets import load_breast_cancer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _attrs(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        value: common_pb2.AnyValue = kv.value
        field = value.WhichOneof("value")
        out[kv.key] = getattr(value, field) if field else None
    return out


class OtlpSink(
    trace_service_pb2_grpc.TraceServiceServicer,
    metrics_service_pb2_grpc.MetricsServiceServicer,
    logs_service_pb2_grpc.LogsServiceServicer,
):
    """An OTLP/gRPC receiver that keeps every span and metric request it is sent."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.traces: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.metrics: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.logs = 0
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self.server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(self, self.server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(self, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def Export(self, request: Any, context: Any) -> Any:
        with self.lock:
            if isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
                self.traces.append(request)
                return trace_service_pb2.ExportTraceServiceResponse()
            if isinstance(request, metrics_service_pb2.ExportMetricsServiceRequest):
                self.metrics.append(request)
                return metrics_service_pb2.ExportMetricsServiceResponse()
            self.logs += sum(
                len(s.log_records) for r in request.resource_logs for s in r.scope_logs
            )
            return logs_service_pb2.ExportLogsServiceResponse()

    def spans(self) -> list[trace_pb2.Span]:
        with self.lock:
            return [
                span
                for req in self.traces
                for rs in req.resource_spans
                for ss in rs.scope_spans
                for span in ss.spans
            ]

    def metric_points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """Return (resource attributes, data point) of every point of metric ``name``."""
        out = []
        with self.lock:
            for req in self.metrics:
                for rm in req.resource_metrics:
                    resource = _attrs(rm.resource.attributes)
                    for sm in rm.scope_metrics:
                        for metric in sm.metrics:
                            if metric.name != name:
                                continue
                            kind = metric.WhichOneof("data")
                            out += [(resource, p) for p in getattr(metric, kind).data_points]
        return out


@pytest.fixture
def otlp_sink() -> Iterator[OtlpSink]:
    sink = OtlpSink()
    sink.server.start()
    yield sink
    sink.server.stop(grace=None)


class Pumped:
    """A subprocess whose stdout and stderr are read by threads (never blocks on a full pipe)."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.out: list[str] = []
        self.threads = [
            threading.Thread(target=self._pump, args=(stream,), daemon=True)
            for stream in (self.proc.stdout, self.proc.stderr)
        ]
        for t in self.threads:
            t.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.out.append(line)

    def text(self) -> str:
        return "".join(self.out)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} (exit {self.proc.poll()}):\n{self.text()[-3000:]}")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 20 s; return the exit status of a graceful stop."""
        status: int | None = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                status = self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        else:
            status = self.proc.returncode
        for t in self.threads:
            t.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return status


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        return json.loads(resp.read())  # type: ignore[no-any-return]


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_fastapi_service_predict_span_inside_request_span(otlp_sink: OtlpSink) -> None:
    env = {
        **os.environ,
        "OTEL_SDK_DISABLED": "false",
        "OTEL_SERVICE_NAME": "example-api",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_sink.port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_BLRP_SCHEDULE_DELAY": "200",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("OTEL_SEMCONV_STABILITY_OPT_IN", None)  # the app chooses it
    app = Pumped(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app:app",
            "--app-dir",
            str(EXAMPLES / "fastapi_service"),
            "--host",
            "127.0.0.1",
            "--port",
            "0",  # uvicorn logs the port it bound
        ],
        env,
    )
    try:
        port = app.wait_for(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", 60).group(1)
        base = f"http://127.0.0.1:{port}"
        X = load_breast_cancer(as_frame=True).data
        ids = [f"req-{i}" for i in range(12)]
        answers = [
            _post(base + "/predict", {"request_id": rid, "features": X.iloc[i].to_dict()})
            for i, rid in enumerate(ids)
        ]
        assert [a["request_id"] for a in answers] == ids
        assert all(0.0 <= a["score"] <= 1.0 and a["label"] in (0, 1) for a in answers)

        def predict_spans() -> dict[str, trace_pb2.Span]:
            return {
                _attrs(s.attributes).get("ml.prediction.id"): s
                for s in otlp_sink.spans()
                if s.name == "predict breast-cancer"
            }

        def counted() -> float:
            points = [
                p.as_int or p.as_double
                for _, p in otlp_sink.metric_points("ml.prediction.count")
                if _attrs(p.attributes).get("ml.segment") == ""
            ]
            return max(points, default=0)

        _wait(lambda: set(predict_spans()) >= set(ids), 30, "the predict spans")
        _wait(lambda: counted() == len(ids), 30, "ml.prediction.count")
        _wait(
            lambda: otlp_sink.metric_points("http.server.request.duration"),
            30,
            "http.server.request.duration",
        )

        by_id = {s.span_id: s for s in otlp_sink.spans()}
        for rid, span in predict_spans().items():
            parent = by_id[span.parent_span_id]  # exported too, in the same trace
            assert parent.trace_id == span.trace_id
            assert parent.kind == trace_pb2.Span.SPAN_KIND_SERVER, rid
            assert parent.name == "POST /predict"
            assert _attrs(parent.attributes)["http.route"] == "/predict"
            assert span.start_time_unix_nano >= parent.start_time_unix_nano
            assert span.end_time_unix_nano <= parent.end_time_unix_nano
        assert len({s.trace_id for s in predict_spans().values()}) == len(ids)

        http = [
            (res, p)
            for res, p in otlp_sink.metric_points("http.server.request.duration")
            if _attrs(p.attributes).get("http.route") == "/predict"
        ]
        assert max(p.count for _, p in http) == len(ids)
        # Beside each other: one resource, one meter provider, one exporter.
        [(ml_resource, _), *_] = otlp_sink.metric_points("ml.prediction.count")
        assert http[0][0]["service.name"] == ml_resource["service.name"] == "example-api"
        assert otlp_sink.metric_points("ml.feature.values")
    finally:
        status = app.stop()
    # uvicorn shuts down gracefully, then re-raises the signal so that its status tells.
    assert status == -signal.SIGTERM, app.text()[-3000:]
    assert "Application shutdown complete" in app.text()
    assert otlp_sink.logs >= len(ids)  # one ml.prediction record per request


def test_delayed_labels_realised_performance_appears() -> None:
    env = {**os.environ, "OTEL_SDK_DISABLED": "false", "PYTHONUNBUFFERED": "1"}
    for name in ("OTELML_EXAMPLE_PROCESSOR", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        env.pop(name, None)  # the example starts its own processor
    # Its own session, so that the processor and labeller it starts die with it on a timeout.
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "delayed_labels.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # only leftovers: the example stops its own
        proc.wait()
    assert proc.returncode == 0, f"{out[-2000:]}\n{err[-3000:]}"
    assert "baseline uploaded: 171 reference rows with scores and labels" in out
    app_pid = re.search(r"predictions made: 171 in pid (\d+)", out)
    assert app_pid is not None, out
    # Before the labels: nothing realised, CBPE already estimates from the scores alone.
    m = re.search(
        r"before labels: coverage 0\.0%, realised accuracy n/a, "
        r"estimated accuracy \(CBPE\) (\d\.\d{3})",
        out,
    )
    assert m is not None, out
    assert 0.8 < float(m.group(1)) <= 1.0
    m = re.search(r"labeller \(pid (\d+)\): sent (\d+) actuals", out)
    assert m is not None, out
    assert m.group(1) != app_pid.group(1)  # the actuals come from another process
    assert int(m.group(2)) == 133
    assert "predictions: 171, labelled: 133" in out
    assert f"label coverage: {133 / 171:.1%}" in out
    m = re.search(
        r"accuracy: realised (\d\.\d{3}), estimated \(CBPE\) (\d\.\d{3}) ± (\d\.\d{3})", out
    )
    assert m is not None, out
    realised = float(m.group(1))
    assert 0.8 < realised <= 1.0
    local = re.search(r"accuracy of the same rows by scikit-learn: (\d\.\d{3})", out)
    assert local is not None
    assert float(local.group(1)) == realised  # the join counted exactly the labelled rows
    assert re.search(r"roc_auc: realised \d\.\d{3}, estimated \(CBPE\) \d\.\d{3}", out)
    assert "performance status: ok" in out
