"""A local OTLP/gRPC sink on a free port that counts log records by event name."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class LogSink(
    metrics_service_pb2_grpc.MetricsServiceServicer,
    trace_service_pb2_grpc.TraceServiceServicer,
    logs_service_pb2_grpc.LogsServiceServicer,
):
    """Accepts every OTLP export; keeps log records' event names and prediction ids."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: Counter[str] = Counter()
        self.ids: dict[str, list[str]] = {}

    def Export(self, request: Any, context: Any) -> Any:
        if isinstance(request, metrics_service_pb2.ExportMetricsServiceRequest):
            return metrics_service_pb2.ExportMetricsServiceResponse()
        if isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
            return trace_service_pb2.ExportTraceServiceResponse()
        with self.lock:
            for rl in request.resource_logs:
                for sl in rl.scope_logs:
                    for rec in sl.log_records:
                        self.events[rec.event_name] += 1
                        for kv in rec.attributes:
                            if kv.key == "ml.prediction.id":
                                self.ids.setdefault(rec.event_name, []).append(
                                    kv.value.string_value
                                )
        return logs_service_pb2.ExportLogsServiceResponse()


@contextmanager
def log_sink() -> Iterator[tuple[LogSink, int]]:
    """Yield a running sink and its port (bound to port 0: never a fixed one)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    sink = LogSink()
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(sink, server)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(sink, server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(sink, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield sink, port
    finally:
        server.stop(None)
