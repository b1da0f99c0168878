"""In-memory OpenTelemetry pipes for tests: see what ``@otelml.observe`` emitted.

>>> import otelml.testing
>>> with otelml.testing.capture() as telemetry:
...     predict({"amount": 3.0})
...     telemetry.spans(), telemetry.logs(), telemetry.points("ml.feature.values")

A pytest fixture is one line::

    @pytest.fixture
    def telemetry():
        with otelml.testing.capture() as t:
            yield t

The providers are otelml's own (the global OpenTelemetry providers are left alone), so this
works whatever the application under test configured. Requires ``otelml[sdk]``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from otelml.instrumentation.flush import HUB
from otelml.instrumentation.guard import GUARD
from otelml.instrumentation.logs import LOGS
from otelml.instrumentation.runtime import RUNTIME


@dataclass(frozen=True)
class Point:
    """One exported metric data point with its metric's name, kind and unit."""

    name: str
    kind: str
    unit: str
    attributes: dict[str, Any]
    point: Any


class Capture:
    """In-memory span, metric and log pipes, installed as otelml's providers."""

    def __init__(self, *, delta: bool = False) -> None:
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import (
            InMemoryLogRecordExporter,
            SimpleLogRecordProcessor,
        )
        from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
        from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        temporality = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
        self.metric_reader = InMemoryMetricReader(
            preferred_temporality={Histogram: temporality, Counter: temporality}
        )
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])
        self.log_exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))
        self.errors: list[tuple[str, BaseException]] = []
        self._remove_hook = GUARD.add_hook(lambda kind, exc: self.errors.append((kind, exc)))
        self._last: list[Point] = []

    # ------------------------------------------------------------------ reading
    def spans(self, name: str | None = None) -> list[Any]:
        """Return finished spans (``ReadableSpan``), optionally only those called ``name``."""
        spans = list(self.span_exporter.get_finished_spans())
        return [s for s in spans if name is None or s.name == name]

    def logs(self, event: str | None = None) -> list[Any]:
        """Return emitted log records (after draining otelml's queue), optionally one event."""
        LOGS.flush()
        records = [r.log_record for r in self.log_exporter.get_finished_logs()]
        return [r for r in records if event is None or r.event_name == event]

    def collect(self) -> list[Point]:
        """Collect metrics now (as an export interval would) and return every point."""
        data = self.metric_reader.get_metrics_data()
        points: list[Point] = []
        for rm in data.resource_metrics if data is not None else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    kind = type(metric.data).__name__
                    points.extend(
                        Point(metric.name, kind, metric.unit or "", dict(p.attributes or {}), p)
                        for p in metric.data.data_points
                    )
        self._last = points
        return points

    def points(self, name: str, attributes: Mapping[str, Any] | None = None) -> list[Any]:
        """Return data points of metric ``name`` whose attributes include ``attributes``.

        Collects first (cumulative by default, so each call sees all counts so far).
        """
        want = dict(attributes or {})
        return [
            p.point
            for p in self.collect()
            if p.name == name and all(p.attributes.get(k) == v for k, v in want.items())
        ]

    def clear(self) -> None:
        """Forget finished spans, logs and swallowed errors (metrics stay cumulative)."""
        LOGS.flush()
        self.span_exporter.clear()
        self.log_exporter.clear()
        self.errors.clear()

    def close(self) -> None:
        """Restore otelml's providers to the global ones and shut these down."""
        LOGS.flush()
        self._remove_hook()
        RUNTIME.use_providers()
        HUB.detach(self.meter_provider)
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            provider.shutdown()


@contextlib.contextmanager
def capture(*, delta: bool = False) -> Iterator[Capture]:
    """Yield a :class:`Capture` whose pipes otelml uses until the block ends.

    Counts recorded before the block are discarded so that each capture starts empty.
    """
    LOGS.flush()
    HUB.drain_now()  # pending counts from before go to older readers, not to this one
    GUARD.take()
    cap = Capture(delta=delta)
    RUNTIME.use_providers(cap.tracer_provider, cap.meter_provider, cap.logger_provider)
    try:
        yield cap
    finally:
        cap.close()
