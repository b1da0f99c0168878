"""The demo's app side: OpenTelemetry SDK set-up, the observed predict function, the traffic.

This is the part a user's service would contain: SDK providers exporting OTLP to a processor
(here the embedded one, every second instead of the SDK's 60 s so the demo moves), a predict
function under ``@otelml.observe``, and ground truth sent later with ``otelml.record_actuals``
by request id, some of it late and some never.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from otelml.demo.scenario import MODEL, NEW_CATEGORY_COLUMN, VERSION, Scenario

EXPORT_INTERVAL_MS = 1000
NEVER_LABELLED = 0.15
"""Share of predictions whose ground truth never arrives."""
MAX_BATCH = 8
"""Largest rows per predict call (calls carry 1 to this many rows)."""


def setup_telemetry(grpc_endpoint: str, service_name: str = "otelml-demo") -> Any:
    """Return an ``otelml.Telemetry`` of SDK providers exporting OTLP/gRPC to ``grpc_endpoint``.

    The global providers are set (the demo is its own process), so ``@otelml.observe`` rides
    them as it would ride an app's own set-up.
    """
    from opentelemetry import _logs, metrics, trace
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

    import otelml

    resource = Resource.create({"service.name": service_name})
    endpoint = f"http://{grpc_endpoint}"
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint, insecure=True), schedule_delay_millis=1000
        )
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint, insecure=True),
        export_interval_millis=EXPORT_INTERVAL_MS,
    )
    mp = MeterProvider(resource=resource, metric_readers=[reader])
    lp = LoggerProvider(resource=resource)
    lp.add_log_record_processor(
        BatchLogRecordProcessor(
            OTLPLogExporter(endpoint=endpoint, insecure=True), schedule_delay_millis=500
        )
    )
    trace.set_tracer_provider(tp)
    metrics.set_meter_provider(mp)
    _logs.set_logger_provider(lp)
    return otelml.Telemetry(
        tracer_provider=tp,
        meter_provider=mp,
        logger_provider=lp,
        installed=("traces", "metrics", "logs"),
    )


def observed_predict(scenario: Scenario, baseline: Any) -> Callable[[dict[str, Any]], Any]:
    """Return the model's predict function under ``@otelml.observe``, as a service would have it."""
    import otelml

    @otelml.observe(
        model=MODEL,
        version=VERSION,
        task="binary_classification",
        baseline=baseline,
        id_from="request_id",
        classes=[0, 1],
        categorical=[NEW_CATEGORY_COLUMN],
    )
    def predict(batch: dict[str, Any]) -> Any:
        return scenario.predict_proba(batch)

    return predict


@dataclass
class Counters:
    """What the traffic has done so far."""

    predictions: int = 0
    calls: int = 0
    labels_sent: int = 0
    labels_pending: int = 0
    labels_never: int = 0


@dataclass
class Traffic:
    """Predict calls at ``speed`` rows/s and delayed actuals, advanced by :meth:`step`.

    ``label_delay_s`` is the (min, max) delay of ground truth; :data:`NEVER_LABELLED` of the
    rows never get any. The clock is the caller's: :meth:`step` is given the elapsed time.
    """

    scenario: Scenario
    predict: Callable[[dict[str, Any]], Any]
    speed: float
    label_delay_s: tuple[float, float]
    seed: int = 0
    counters: Counters = field(default_factory=Counters)
    _due: list[tuple[float, int, str, int]] = field(default_factory=list)
    _next_id: int = 0
    _rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed + 1)

    def step(self, elapsed_s: float, phase: int) -> None:
        """Make the predict calls due by ``elapsed_s`` and send the actuals that fell due."""
        due_rows = math.floor(self.speed * elapsed_s) - self.counters.predictions
        while due_rows > 0:
            n = min(int(self._rng.integers(1, MAX_BATCH + 1)), due_rows)
            self._call(n, elapsed_s, phase)
            due_rows -= n
        self._send_actuals(elapsed_s)

    def _call(self, n: int, now: float, phase: int) -> None:
        cols, labels = self.scenario.draw(n, phase)
        first, self._next_id = self._next_id, self._next_id + n
        ids = [f"req-{self.seed}-{first + i:07d}" for i in range(n)]
        self.predict({"request_id": np.asarray(ids, dtype=object), **cols})
        self.counters.predictions += n
        self.counters.calls += 1
        lo, hi = self.label_delay_s
        delays = self._rng.uniform(lo, hi, n)
        never = self._rng.random(n) < NEVER_LABELLED
        for rid, label, delay, lost in zip(ids, labels.tolist(), delays, never, strict=True):
            if lost:
                self.counters.labels_never += 1
            else:
                heapq.heappush(self._due, (now + float(delay), first, rid, int(label)))
        self.counters.labels_pending = len(self._due)

    def _send_actuals(self, now: float) -> None:
        import otelml

        ids: list[str] = []
        actuals: list[int] = []
        while self._due and self._due[0][0] <= now:
            _, _, rid, label = heapq.heappop(self._due)
            ids.append(rid)
            actuals.append(label)
        if ids:
            otelml.record_actuals(model=MODEL, version=VERSION, ids=ids, actuals=actuals)
            self.counters.labels_sent += len(ids)
        self.counters.labels_pending = len(self._due)
