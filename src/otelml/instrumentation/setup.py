"""``otelml.configure``: the optional one-line OpenTelemetry SDK set-up (OTLP from ``OTEL_*``).

An app that already configured OpenTelemetry keeps its providers: ``configure`` only fills in
the signals that are still unset, and otelml rides whatever is installed (see flush.py).
What it installs is sized so that no prediction or label record is lost silently (see
delivery.py), and shuts down within a deadline even when the Collector is down.
"""

from __future__ import annotations

import atexit
import functools
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otelml.instrumentation import delivery
from otelml.instrumentation.config import ConfigError, sdk_disabled
from otelml.instrumentation.delivery import CountingLogExporter, FlushResult
from otelml.instrumentation.logs import LOGS
from otelml.instrumentation.runtime import RUNTIME

SHUTDOWN_TIMEOUT_S = 5.0
SDK_LOG_QUEUE = 8_192
SDK_LOG_BATCH = 1_024
LOG_EXPORT_DELAY_MS = 1_000


@dataclass
class Telemetry:
    """Providers that :func:`configure` installed (None where the app already had one)."""

    tracer_provider: Any = None
    meter_provider: Any = None
    logger_provider: Any = None
    installed: tuple[str, ...] = field(default=())
    shutdown_timeout_s: float = SHUTDOWN_TIMEOUT_S
    exporters: tuple[Any, ...] = field(default=(), repr=False)
    _closed: bool = field(default=False, repr=False)

    def _providers(self) -> list[Any]:
        return [
            p
            for p in (self.tracer_provider, self.meter_provider, self.logger_provider)
            if p is not None
        ]

    def flush(self, timeout_s: float = 10.0) -> FlushResult:
        """Export everything pending now (otelml's queue, spans, metrics, logs) within
        ``timeout_s`` and return what was delivered (:class:`~otelml.FlushResult`)."""
        providers = self._providers() or None  # none installed here: flush the app's own
        return delivery.flush(timeout_s, providers)

    def shutdown(self, timeout_s: float | None = None) -> FlushResult:
        """Flush, then shut down the providers :func:`configure` installed, within
        ``timeout_s`` (default ``shutdown_timeout_s``, 5 s) even when the Collector is down."""
        budget = self.shutdown_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + budget
        if self._closed:
            return delivery.current(True)
        self._closed = True
        # Most of the budget for delivering; the rest to stop the exporters' retries.
        result = self.flush(budget * 0.7)
        if not result.complete:  # the Collector is down or slow: stop the exporters' retries
            delivery.run_bounded([functools.partial(_stop, e) for e in self.exporters], 0.2)
        remaining = max(0.0, deadline - time.monotonic())
        done = delivery.run_bounded([p.shutdown for p in self._providers()], remaining)
        return delivery.current(result.complete and done)


def _stop(exporter: Any) -> None:
    try:
        exporter.shutdown(timeout_millis=0)
    except TypeError:  # the HTTP exporters take no timeout
        exporter.shutdown()


def _exporters(protocol: str, timeout_s: float | None) -> tuple[Any, Any, Any]:
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
    kw: dict[str, Any] = {} if timeout_s is None else {"timeout": timeout_s}
    return OTLPSpanExporter(**kw), OTLPMetricExporter(**kw), OTLPLogExporter(**kw)


def _check(name: str, value: float | None, minimum: float) -> None:
    if value is not None and (not isinstance(value, (int, float)) or not value >= minimum):
        raise ConfigError(f"{name}: expected a number >= {minimum}, got {value!r}")


def configure(
    service_name: str | None = None,
    *,
    protocol: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    export_interval_ms: float | None = None,
    export_timeout_s: float | None = None,
    log_queue_rows: int | None = None,
    log_queue_block_s: float | None = None,
    shutdown_timeout_s: float = SHUTDOWN_TIMEOUT_S,
    shutdown_at_exit: bool = True,
) -> Telemetry:
    """Install OTLP-exporting SDK providers for the signals the app has not configured yet.

    Exporters read the standard ``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers,
    compression, timeout); ``protocol`` defaults to ``OTEL_EXPORTER_OTLP_PROTOCOL`` or ``grpc``;
    ``export_interval_ms`` to ``OTEL_METRIC_EXPORT_INTERVAL`` (60 s); ``export_timeout_s`` to
    ``OTEL_EXPORTER_OTLP_TIMEOUT`` (10 s). ``log_queue_rows`` bounds otelml's queue of
    prediction and actual records (``OTELML_LOG_QUEUE_ROWS``, 100,000) and
    ``log_queue_block_s`` lets a full queue wait that long before dropping (0: never wait,
    the right choice for a service). At exit, and on :meth:`Telemetry.shutdown`, everything
    is flushed and the providers shut down within ``shutdown_timeout_s``. With
    ``OTEL_SDK_DISABLED=true`` nothing is installed. Requires ``otelml[sdk]``. See
    docs/instrumentation.md for every option.
    """
    _check("export_interval_ms", export_interval_ms, 1)
    _check("export_timeout_s", export_timeout_s, 0.001)
    _check("log_queue_block_s", log_queue_block_s, 0)
    _check("shutdown_timeout_s", shutdown_timeout_s, 0)
    if log_queue_rows is not None and (not isinstance(log_queue_rows, int) or log_queue_rows < 1):
        raise ConfigError(f"log_queue_rows: expected an integer >= 1, got {log_queue_rows!r}")
    LOGS.resize(log_queue_rows, log_queue_block_s)
    out = Telemetry(shutdown_timeout_s=shutdown_timeout_s)
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
    span_exporter, metric_exporter, log_exporter = _exporters(protocol, export_timeout_s)
    installed = []
    exporters: list[Any] = []
    # The SDK's own exit handlers would wait up to 30 s per provider on a dead Collector;
    # ours (registered below) keeps to shutdown_timeout_s.
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        tp = TracerProvider(resource=resource, shutdown_on_exit=False)
        tp.add_span_processor(BatchSpanProcessor(span_exporter))
        trace.set_tracer_provider(tp)
        out.tracer_provider = tp
        installed.append("traces")
        exporters.append(span_exporter)
    if isinstance(metrics.get_meter_provider(), _ProxyMeterProvider):
        reader = PeriodicExportingMetricReader(
            metric_exporter, export_interval_millis=export_interval_ms
        )
        mp = MeterProvider(resource=resource, metric_readers=[reader], shutdown_on_exit=False)
        metrics.set_meter_provider(mp)
        out.meter_provider = mp
        installed.append("metrics")
        exporters.append(metric_exporter)
    if isinstance(_logs.get_logger_provider(), ProxyLoggerProvider):
        lp = LoggerProvider(resource=resource, shutdown_on_exit=False)
        counting = CountingLogExporter(log_exporter)
        # otelml's worker waits for room in this queue (logs.sdk_room), so its size only
        # sets how much is in flight; bursts wait in otelml's own, counted queue.
        lp.add_log_record_processor(
            BatchLogRecordProcessor(
                counting,  # type: ignore[arg-type]
                max_queue_size=SDK_LOG_QUEUE,
                max_export_batch_size=SDK_LOG_BATCH,
                schedule_delay_millis=LOG_EXPORT_DELAY_MS,
            )
        )
        _logs.set_logger_provider(lp)
        out.logger_provider = lp
        installed.append("logs")
        exporters.append(counting)
    out.installed = tuple(installed)
    out.exporters = tuple(exporters)
    if shutdown_at_exit and installed:
        atexit.register(out.shutdown)
    RUNTIME.use_providers()  # re-resolve now rather than at the next periodic check
    return out
