"""Which OpenTelemetry pipes are live: resolved rarely, read with one attribute access per call.

The wrappers read :attr:`Runtime.pipes`; ``None`` means "run the model uninstrumented". With
``OTEL_SDK_DISABLED=true`` that is all they ever do. Before an SDK is installed (the global
providers are still the API's proxies) the globals are re-checked at most once a second, so an
app that configures OpenTelemetry after importing its model code is picked up.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from otelml import semconv
from otelml.instrumentation.config import sdk_disabled
from otelml.instrumentation.flush import HUB
from otelml.instrumentation.guard import GUARD

RECHECK_S = 1.0


@dataclass(frozen=True, slots=True)
class Pipes:
    """Live telemetry pipes of one resolution; ``generation`` changes when providers change."""

    tracer: Any | None
    logger: Any | None
    metrics: bool
    complete: bool
    generation: int


def _is_noop(provider: Any, *noop_types: type) -> bool:
    return provider is None or isinstance(provider, noop_types)


class Runtime:
    """Process-wide resolution of tracer, meter and logger providers."""

    def __init__(self) -> None:
        self.pipes: Pipes | None = None
        self.disabled = sdk_disabled()
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._generation = 0
        self._tracer_provider: Any = None
        self._meter_provider: Any = None
        self._logger_provider: Any = None

    def use_providers(
        self,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
    ) -> None:
        """Use these providers instead of the global ones (None: the global one)."""
        with self._lock:
            self._tracer_provider = tracer_provider
            self._meter_provider = meter_provider
            self._logger_provider = logger_provider
            self._generation += 1
            self._next_check = 0.0
            self.pipes = None

    def set_disabled(self, disabled: bool | None) -> None:
        """Force telemetry off/on; None re-reads ``OTEL_SDK_DISABLED`` / ``OTELML_DISABLED``."""
        with self._lock:
            self.disabled = sdk_disabled() if disabled is None else disabled
            self._generation += 1
            self._next_check = 0.0
            self.pipes = None

    def poll(self) -> Pipes | None:
        """Return the live pipes, re-resolving at most once per :data:`RECHECK_S`."""
        if self.disabled:
            return None
        now = time.monotonic()
        if now < self._next_check:
            return self.pipes
        try:
            with self._lock:
                self._next_check = now + RECHECK_S
                self.pipes = self._resolve()
        except Exception as exc:
            GUARD.error("setup", exc)
            return None
        return self.pipes

    def providers(self) -> tuple[Any, Any, Any]:
        """Return the (tracer, meter, logger) providers otelml uses now (given or global)."""
        from opentelemetry import _logs as logs
        from opentelemetry import metrics, trace

        return (
            self._tracer_provider or trace.get_tracer_provider(),
            self._meter_provider or metrics.get_meter_provider(),
            self._logger_provider or logs.get_logger_provider(),
        )

    def _resolve(self) -> Pipes | None:
        from opentelemetry import _logs as logs
        from opentelemetry import metrics, trace
        from opentelemetry._logs._internal import ProxyLoggerProvider
        from opentelemetry.metrics._internal import _ProxyMeterProvider

        tp = self._tracer_provider or trace.get_tracer_provider()
        mp = self._meter_provider or metrics.get_meter_provider()
        lp = self._logger_provider or logs.get_logger_provider()
        tracer = None
        if not _is_noop(tp, trace.NoOpTracerProvider, trace.ProxyTracerProvider):
            tracer = tp.get_tracer(semconv.INSTRUMENTATION_SCOPE, _version(), schema_url=None)
        logger = None
        if not _is_noop(lp, logs.NoOpLoggerProvider, ProxyLoggerProvider):
            logger = lp.get_logger(semconv.INSTRUMENTATION_SCOPE, _version())
        metrics_on = False
        if not _is_noop(mp, metrics.NoOpMeterProvider, _ProxyMeterProvider):
            metrics_on = HUB.attach(mp)
        if tracer is None and logger is None and not metrics_on:
            return None
        return Pipes(
            tracer=tracer,
            logger=logger,
            metrics=metrics_on,
            complete=tracer is not None and logger is not None and metrics_on,
            generation=self._generation,
        )


def _version() -> str:
    from otelml._version import __version__

    return __version__


RUNTIME = Runtime()
"""The process-wide runtime."""
