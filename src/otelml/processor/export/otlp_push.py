"""Optional push of the processor's metrics to an OTLP endpoint (the users' Collector).

The same families that ``/metrics`` serves (:func:`otelml.processor.export.prometheus.collect`)
become an OTLP ``MetricsData``: gauges as gauges, counters as cumulative monotonic sums,
histograms as cumulative explicit-bucket histograms, all with the Prometheus label names as
attribute keys. Metric names are the Prometheus names, counters without their ``_total`` suffix,
so that a Collector ``prometheus`` / ``prometheusremotewrite`` exporter (which appends
``_total`` to monotonic sums) produces the very names that ``/metrics`` shows. Cumulative points
start at the pusher's creation time.

The OpenTelemetry SDK's OTLP metric exporters do the wire work (gRPC or HTTP/protobuf, retries
with backoff on transient errors); the push runs in a worker thread on an interval.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from otelml._version import __version__
from otelml.processor.export import prometheus as prom

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricsData

    from otelml.processor.state.context import ProcessorContext

log = logging.getLogger(__name__)

SERVICE_NAME = "otelml-processor"


def build_metrics_data(
    families: list[prom.Family],
    *,
    start_ns: int,
    now_ns: int,
    resource: dict[str, Any] | None = None,
) -> MetricsData:
    """Return the OTLP ``MetricsData`` of ``families`` (empty families left out)."""
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        Gauge,
        Histogram,
        HistogramDataPoint,
        Metric,
        MetricsData,
        NumberDataPoint,
        ResourceMetrics,
        ScopeMetrics,
        Sum,
    )
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    cumulative = AggregationTemporality.CUMULATIVE
    metrics: list[Metric] = []
    for fam in families:
        m = fam.metric
        if not fam.samples and not fam.histograms:
            continue
        data: Any
        if m.type == "histogram":
            data = Histogram(
                data_points=[
                    HistogramDataPoint(
                        attributes=dict(zip(m.labels, hp.labels, strict=True)),
                        start_time_unix_nano=start_ns,
                        time_unix_nano=now_ns,
                        count=hp.count,
                        sum=hp.sum,
                        bucket_counts=list(hp.counts),
                        explicit_bounds=list(hp.bounds),
                        min=math.nan,
                        max=math.nan,
                    )
                    for hp in fam.histograms
                ],
                aggregation_temporality=cumulative,
            )
        else:
            points = [
                NumberDataPoint(
                    attributes=dict(zip(m.labels, labels, strict=True)),
                    start_time_unix_nano=start_ns if m.type == "counter" else now_ns,
                    time_unix_nano=now_ns,
                    value=int(v) if m.type == "counter" and v == int(v) else v,
                )
                for labels, v in fam.samples
            ]
            if m.type == "counter":
                data = Sum(
                    data_points=points, aggregation_temporality=cumulative, is_monotonic=True
                )
            else:
                data = Gauge(data_points=points)
        metrics.append(Metric(name=m.otlp_name, description=m.help, unit=m.unit, data=data))
    res = Resource.create({"service.name": SERVICE_NAME, **(resource or {})})
    scope = InstrumentationScope("otelml.processor", __version__)
    return MetricsData(
        resource_metrics=[
            ResourceMetrics(
                resource=res,
                scope_metrics=[ScopeMetrics(scope=scope, metrics=metrics, schema_url="")],
                schema_url="",
            )
        ]
    )


def make_exporter(endpoint: str, protocol: str, timeout_s: float) -> MetricExporter:
    """Return the SDK's OTLP metric exporter for ``protocol`` (``grpc`` or ``http``)."""
    if protocol == "http":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter as HttpExporter,
        )

        url = endpoint if "://" in endpoint else f"http://{endpoint}"
        if not url.rstrip("/").endswith("/v1/metrics"):
            url = url.rstrip("/") + "/v1/metrics"
        return HttpExporter(endpoint=url, timeout=timeout_s)
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
        OTLPMetricExporter as GrpcExporter,
    )

    insecure = not endpoint.startswith("https://")
    return GrpcExporter(endpoint=endpoint, insecure=insecure, timeout=timeout_s)


class OtlpPusher:
    """Pushes :func:`~otelml.processor.export.prometheus.collect` output on an interval."""

    def __init__(
        self,
        ctx: ProcessorContext,
        exporter: MetricExporter,
        *,
        interval_s: float = 60.0,
        timeout_s: float = 10.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.ctx = ctx
        self.exporter = exporter
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.clock = clock or ctx.clock
        self.start_ns = int(self.clock() * 1e9)
        self.pushes = 0
        self.failures = 0

    @classmethod
    def from_context(cls, ctx: ProcessorContext) -> OtlpPusher:
        """Return a pusher configured by ``ctx.config.export.otlp`` (endpoint must be set)."""
        cfg = ctx.config.export.otlp
        if not cfg.endpoint:
            raise ValueError("export.otlp.endpoint: must be set to push OTLP metrics")
        exporter = make_exporter(cfg.endpoint, cfg.protocol, cfg.timeout_s)
        return cls(ctx, exporter, interval_s=cfg.interval_s, timeout_s=cfg.timeout_s)

    def build(self) -> MetricsData:
        """Return the metrics to push now."""
        families = prom.collect(self.ctx)
        return build_metrics_data(families, start_ns=self.start_ns, now_ns=int(self.clock() * 1e9))

    def push_once(self) -> bool:
        """Build and push once; return whether the endpoint accepted it."""
        from opentelemetry.sdk.metrics.export import MetricExportResult

        result = self.exporter.export(self.build(), timeout_millis=self.timeout_s * 1000)
        ok = result is MetricExportResult.SUCCESS
        self.pushes += 1
        if not ok:
            self.failures += 1
            log.warning("OTLP metrics push failed")
        return ok

    async def run(self) -> None:
        """Push every ``interval_s`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.interval_s)
            t0 = time.perf_counter()
            try:
                await asyncio.to_thread(self.push_once)
            except Exception:  # a push failure must not stop the service
                log.exception("OTLP metrics push failed")
            log.debug("OTLP push took %.3f s", time.perf_counter() - t0)

    def shutdown(self) -> None:
        """Shut the exporter down (idempotent)."""
        self.exporter.shutdown()
