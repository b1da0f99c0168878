"""An OTLP/gRPC server for tests: stands for the otelml processor or any OTLP backend."""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

LOOPBACK = "127.0.0.1"


class OtlpSink:
    """An OTLP/gRPC server on loopback that keeps every export request and its metadata."""

    def __init__(self, name: str, tls: TlsFiles | None = None) -> None:
        self.name = name
        self._lock = threading.Lock()
        self.requests: dict[str, list[Any]] = {"traces": [], "metrics": [], "logs": []}
        self.metadata: list[dict[str, str]] = []
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
            _TraceServicer(self), self._server
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
            _MetricsServicer(self), self._server
        )
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsServicer(self), self._server)
        # port 0: the OS picks a free port and there is no race with other processes
        if tls is None:
            self.port = self._server.add_insecure_port(f"{LOOPBACK}:0")
        else:
            creds = grpc.ssl_server_credentials([(tls.key.read_bytes(), tls.cert.read_bytes())])
            self.port = self._server.add_secure_port(f"{LOOPBACK}:0", creds)
        self.endpoint = f"{LOOPBACK}:{self.port}"

    def start(self) -> OtlpSink:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=None).wait(5)

    def record(self, signal_name: str, request: Any, context: grpc.ServicerContext) -> None:
        with self._lock:
            self.requests[signal_name].append(request)
            self.metadata.append({k: str(v) for k, v in context.invocation_metadata()})

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """Return (resource attributes, span) pairs received so far."""
        with self._lock:
            reqs = list(self.requests["traces"])
        return [
            (attributes(rs.resource.attributes), span)
            for req in reqs
            for rs in req.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]

    def metrics(self) -> list[tuple[dict[str, Any], Any]]:
        """Return (resource attributes, metric) pairs received so far."""
        with self._lock:
            reqs = list(self.requests["metrics"])
        return [
            (attributes(rm.resource.attributes), metric)
            for req in reqs
            for rm in req.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
        ]

    def logs(self) -> list[tuple[dict[str, Any], Any]]:
        """Return (resource attributes, log record) pairs received so far."""
        with self._lock:
            reqs = list(self.requests["logs"])
        return [
            (attributes(rl.resource.attributes), record)
            for req in reqs
            for rl in req.resource_logs
            for sl in rl.scope_logs
            for record in sl.log_records
        ]


class _TraceServicer(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self, sink: OtlpSink) -> None:
        self.sink = sink

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.sink.record("traces", request, context)
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsServicer(metrics_service_pb2_grpc.MetricsServiceServicer):  # type: ignore[misc]
    def __init__(self, sink: OtlpSink) -> None:
        self.sink = sink

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.sink.record("metrics", request, context)
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _LogsServicer(logs_service_pb2_grpc.LogsServiceServicer):  # type: ignore[misc]
    def __init__(self, sink: OtlpSink) -> None:
        self.sink = sink

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.sink.record("logs", request, context)
        return logs_service_pb2.ExportLogsServiceResponse()


def any_value(value: Any) -> Any:
    """Return the Python value held by an OTLP AnyValue."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, kind)


def attributes(key_values: Any) -> dict[str, Any]:
    """Return OTLP KeyValue pairs as a dict."""
    return {kv.key: any_value(kv.value) for kv in key_values}


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a self-signed certificate (it is its own CA) for 127.0.0.1."""

    cert: Path
    key: Path
