"""``otelml.configure``: the optional one-line OpenTelemetry SDK set-up (OTLP from ``OTEL_*``).

An app that already configured OpenTelemetry keeps its providers: ``configure`` only fills in
the signals that are still unset, and otelml rides whatever is installed (see flush.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otelml.instrumentation.config import ConfigError, sdk_disabled
from otelml.instrumentation.flush import HUB
from otelml.instrumentation.logs import LOGS
from otelml.instrumentation.runtime import RUNTIME


@dataclass
class Telemetry:
    """Providers that :func:`configure` installed (None where the app already had one)."""

    tracer_provider: Any = None
    meter_provider: Any = None
    logger_provider: Any = None
    installed: tuple[str, ...] = field(default=())

    def flush(self, timeout_s: float = 10.0) -> None:
        """Export everything pending now: log queue, spans, metrics, logs."""
        LOGS.flush(timeout_s)
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            if provider is not None:
                provider.force_flush(int(timeout_s * 1000))

    def shutdown(self) -> None:
        """Flush and shut down the providers that :func:`configure` installed."""
        LOGS.flush(5.0)
        HUB.drain_now()
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            if provider is not None:
                provider.shutdown()


def _exporters(protocol: str) -> tuple[Any, Any, Any]:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    elif protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (  # type: ignore[assignment]
            OTLPLogExporter,
        )
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
            OTLPMetricExporter,
        )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    else:
        raise ConfigError(f"protocol: expected 'grpc' or 'http/protobuf', got {protocol!r}")
    return OTLPSpanExporter(), OTLPMetricExporter(), OTLPLogExporter()


def configure(
    service_name: str | None = None,
    *,
    protocol: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    export_interval_ms: float | None = None,
) -> Telemetry:
    """Install OTLP-exporting SDK providers for the signals the app has not configured yet.

    Exporters read the standard ``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers,
    compression, timeout); ``protocol`` defaults to ``OTEL_EXPORTER_OTLP_PROTOCOL`` or ``grpc``;
    ``export_interval_ms`` to ``OTEL_METRIC_EXPORT_INTERVAL`` (60 s). With
    ``OTEL_SDK_DISABLED=true`` nothing is installed. Requires ``otelml[sdk]``.
    """
    out = Telemetry()
    if sdk_disabled():
        return out
    try:
        from opentelemetry import _logs, metrics, trace
        from opentelemetry._logs._internal import ProxyLoggerProvider
        from opentelemetry.metrics._internal import _ProxyMeterProvider
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ImportError("otelml.configure needs the SDK: pip install 'otelml[sdk]'") from exc

    protocol = protocol or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    attrs: dict[str, Any] = dict(resource_attributes or {})
    if service_name:
        attrs["service.name"] = service_name
    resource = Resource.create(attrs)
    span_exporter, metric_exporter, log_exporter = _exporters(protocol)
    installed = []
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        tp = TracerProvider(resource=resource)
        tp.add_span_processor(BatchSpanProcessor(span_exporter))
        trace.set_tracer_provider(tp)
        out.tracer_provider = tp
        installed.append("traces")
    if isinstance(metrics.get_meter_provider(), _ProxyMeterProvider):
        reader = PeriodicExportingMetricReader(
            metric_exporter, export_interval_millis=export_interval_ms
        )
        mp = MeterProvider(resource=resource, metric_readers=[reader])
        metrics.set_meter_provider(mp)
        out.meter_provider = mp
        installed.append("metrics")
    if isinstance(_logs.get_logger_provider(), ProxyLoggerProvider):
        lp = LoggerProvider(resource=resource)
        lp.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
        _logs.set_logger_provider(lp)
        out.logger_provider = lp
        installed.append("logs")
    out.installed = tuple(installed)
    RUNTIME.use_providers()  # re-resolve now rather than at the next periodic check
    return out
