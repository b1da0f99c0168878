"""Builders of OTLP requests shaped like the otelml telemetry contract, for the processor tests."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from otelml import semconv

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
NS = 1_000_000_000


def now_ns() -> int:
    return time.time_ns()


def any_value(v: Any) -> common_pb2.AnyValue:
    if isinstance(v, bool):
        return common_pb2.AnyValue(bool_value=v)
    if isinstance(v, int):
        return common_pb2.AnyValue(int_value=v)
    if isinstance(v, float):
        return common_pb2.AnyValue(double_value=v)
    if isinstance(v, (list, tuple)):
        return common_pb2.AnyValue(
            array_value=common_pb2.ArrayValue(values=[any_value(x) for x in v])
        )
    return common_pb2.AnyValue(string_value=str(v))


def kvs(attrs: Mapping[str, Any]) -> list[common_pb2.KeyValue]:
    return [common_pb2.KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]


def model_attrs(
    model: str = "fraud",
    version: str = "1",
    env: str = "production",
    feature: str | None = None,
    segment: str = "",
    **extra: Any,
) -> dict[str, Any]:
    a: dict[str, Any] = {
        semconv.MODEL_NAME: model,
        semconv.MODEL_VERSION: version,
        semconv.ENVIRONMENT: env,
        semconv.SEGMENT: segment,
    }
    if feature is not None:
        a[semconv.FEATURE_NAME] = feature
    a.update(extra)
    return a


def sum_metric(
    name: str,
    points: Sequence[tuple[Mapping[str, Any], int | float]],
    *,
    temporality: int = DELTA,
    start_ns: int = 0,
    time_ns: int | None = None,
) -> metrics_pb2.Metric:
    t = now_ns() if time_ns is None else time_ns
    dps = []
    for attrs, value in points:
        dp = metrics_pb2.NumberDataPoint(
            attributes=kvs(attrs), start_time_unix_nano=start_ns, time_unix_nano=t
        )
        if isinstance(value, float):
            dp.as_double = value
        else:
            dp.as_int = value
        dps.append(dp)
    return metrics_pb2.Metric(
        name=name,
        sum=metrics_pb2.Sum(
            data_points=dps, aggregation_temporality=temporality, is_monotonic=True
        ),
    )


def hist_metric(
    name: str,
    points: Sequence[tuple[Mapping[str, Any], Sequence[float], Sequence[int], float]],
    *,
    temporality: int = DELTA,
    start_ns: int = 0,
    time_ns: int | None = None,
) -> metrics_pb2.Metric:
    t = now_ns() if time_ns is None else time_ns
    dps = [
        metrics_pb2.HistogramDataPoint(
            attributes=kvs(attrs),
            start_time_unix_nano=start_ns,
            time_unix_nano=t,
            count=sum(counts),
            sum=total,
            explicit_bounds=list(bounds),
            bucket_counts=list(counts),
        )
        for attrs, bounds, counts, total in points
    ]
    return metrics_pb2.Metric(
        name=name,
        histogram=metrics_pb2.Histogram(data_points=dps, aggregation_temporality=temporality),
    )


def expo_metric(
    name: str,
    attrs: Mapping[str, Any],
    *,
    scale: int,
    offset: int,
    counts: Sequence[int],
    zero_count: int = 0,
    total: float = 0.0,
    temporality: int = DELTA,
    start_ns: int = 0,
    time_ns: int | None = None,
) -> metrics_pb2.Metric:
    t = now_ns() if time_ns is None else time_ns
    dp = metrics_pb2.ExponentialHistogramDataPoint(
        attributes=kvs(attrs),
        start_time_unix_nano=start_ns,
        time_unix_nano=t,
        count=sum(counts) + zero_count,
        sum=total,
        scale=scale,
        zero_count=zero_count,
        positive=metrics_pb2.ExponentialHistogramDataPoint.Buckets(
            offset=offset, bucket_counts=list(counts)
        ),
    )
    return metrics_pb2.Metric(
        name=name,
        exponential_histogram=metrics_pb2.ExponentialHistogram(
            data_points=[dp], aggregation_temporality=temporality
        ),
    )


def metrics_request(
    *metrics: metrics_pb2.Metric, resource: Mapping[str, Any] | None = None
) -> metrics_service_pb2.ExportMetricsServiceRequest:
    res = resource_pb2.Resource(attributes=kvs(resource or {"service.name": "app"}))
    return metrics_service_pb2.ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(
                resource=res,
                scope_metrics=[
                    metrics_pb2.ScopeMetrics(
                        scope=common_pb2.InstrumentationScope(name="otelml"), metrics=metrics
                    )
                ],
            )
        ]
    )


def span(
    attrs: Mapping[str, Any], *, end_ns: int | None = None, name: str = "predict fraud"
) -> trace_pb2.Span:
    t = now_ns() if end_ns is None else end_ns
    return trace_pb2.Span(
        trace_id=b"\x01" * 16,
        span_id=b"\x02" * 8,
        name=name,
        start_time_unix_nano=t - 1000,
        end_time_unix_nano=t,
        attributes=kvs(attrs),
    )


def traces_request(spans: Sequence[trace_pb2.Span]) -> trace_service_pb2.ExportTraceServiceRequest:
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource=resource_pb2.Resource(attributes=kvs({"service.name": "app"})),
                scope_spans=[trace_pb2.ScopeSpans(spans=spans)],
            )
        ]
    )


def log_record(event: str, attrs: Mapping[str, Any]) -> logs_pb2.LogRecord:
    return logs_pb2.LogRecord(time_unix_nano=now_ns(), event_name=event, attributes=kvs(attrs))


def logs_request(
    records: Sequence[logs_pb2.LogRecord],
) -> logs_service_pb2.ExportLogsServiceRequest:
    return logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[
            logs_pb2.ResourceLogs(
                resource=resource_pb2.Resource(attributes=kvs({"service.name": "app"})),
                scope_logs=[logs_pb2.ScopeLogs(log_records=records)],
            )
        ]
    )
