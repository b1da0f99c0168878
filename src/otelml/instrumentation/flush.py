"""Hand the in-process aggregates to OpenTelemetry once per collection, through the SDK's readers.

The Python SDK (1.45) has no histogram instrument that takes pre-bucketed counts, no observable
histogram and no ``MetricProducer``. So :class:`MetricsHub` plays the specification's
MetricProducer by hand: it wraps each SDK ``MetricReader``'s collect callback and appends an
``otelml`` scope to the ``MetricsData`` that the reader hands to *its own* exporter. Our points
therefore ride the app's exporter, interval, resource and ``OTEL_EXPORTER_OTLP_*`` settings,
whoever configured them. Each reader gets its own accumulator, so several readers (OTLP +
Prometheus, delta + cumulative) each see every count exactly once. See docs/instrumentation.md.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from otelml import semconv
from otelml.instrumentation.aggregate import FeatureState, ModelAggregator, SegmentState
from otelml.instrumentation.guard import GUARD

SeriesKey = tuple[str, str, str, str]  # model, version, environment, segment


def _merge_segment(acc: SegmentState, seg: SegmentState) -> None:
    acc.rows += seg.rows
    for f in seg.unique_features():
        a = acc.features.get(f.name)
        if a is None:
            a = acc.features[f.name] = f.empty_like()
        a.merge_from(f)
    for attr in ("values", "labels"):
        src: FeatureState | None = getattr(seg, attr)
        if src is None:
            continue
        dst: FeatureState | None = getattr(acc, attr)
        if dst is None:
            dst = src.empty_like()
            setattr(acc, attr, dst)
        dst.merge_from(src)
    if seg.duration is not None:
        acc.duration = (
            seg.duration.copy() if acc.duration is None else acc.duration.merge(seg.duration)
        )


class _ReaderState:
    """What one reader has not exported yet (delta) or everything since it started (cumulative)."""

    def __init__(self, cumulative: bool, now: int) -> None:
        self.cumulative = cumulative
        self.series: dict[SeriesKey, SegmentState] = {}
        self.start: dict[SeriesKey, int] = {}
        self.errors: dict[str, int] = {}
        self.dropped: dict[str, int] = {}
        self.created = now
        self.last = now

    def absorb(
        self,
        deltas: Iterable[tuple[SeriesKey, SegmentState]],
        errors: dict[str, int],
        dropped: dict[str, int],
        now: int,
    ) -> None:
        for key, seg in deltas:
            acc = self.series.get(key)
            if acc is None:
                acc = self.series[key] = SegmentState(seg.segment)
                self.start[key] = now
            _merge_segment(acc, seg)
        for src, dst in ((errors, self.errors), (dropped, self.dropped)):
            for kind, n in src.items():
                dst[kind] = dst.get(kind, 0) + n

    def emit(self, now: int) -> list[Any]:
        metrics = build_metrics(self, now)
        if not self.cumulative:
            self.series.clear()
            self.start.clear()
            self.errors.clear()
            self.dropped.clear()
            self.last = now
        return metrics


def build_metrics(state: _ReaderState, now: int) -> list[Any]:
    """Return SDK ``Metric`` objects for everything in ``state`` (the contract's names)."""
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        Buckets,
        ExponentialHistogram,
        ExponentialHistogramDataPoint,
        Histogram,
        HistogramDataPoint,
        Metric,
        NumberDataPoint,
        Sum,
    )

    from otelml.stats.histogram import FixedHistogram

    temporality = (
        AggregationTemporality.CUMULATIVE if state.cumulative else AggregationTemporality.DELTA
    )
    fixed: dict[str, list[Any]] = {}
    expo: dict[str, list[Any]] = {}
    sums: dict[str, list[Any]] = {}

    def hist_point(name: str, attrs: dict[str, Any], h: Any, start: int) -> None:
        if isinstance(h, FixedHistogram):
            fixed.setdefault(name, []).append(
                HistogramDataPoint(
                    attributes=attrs,
                    start_time_unix_nano=start,
                    time_unix_nano=now,
                    count=h.count,
                    sum=h.sum,
                    bucket_counts=h.counts.tolist(),
                    explicit_bounds=h.edges.tolist(),
                    min=h.min,
                    max=h.max,
                )
            )
        else:
            pos_offset, pos_counts = h.positive
            neg_offset, neg_counts = h.negative
            expo.setdefault(name, []).append(
                ExponentialHistogramDataPoint(
                    attributes=attrs,
                    start_time_unix_nano=start,
                    time_unix_nano=now,
                    count=h.count,
                    sum=h.sum,
                    scale=h.scale,
                    zero_count=h.zero_count,
                    positive=Buckets(offset=int(pos_offset), bucket_counts=pos_counts.tolist()),
                    negative=Buckets(offset=int(neg_offset), bucket_counts=neg_counts.tolist()),
                    flags=0,
                    min=h.min,
                    max=h.max,
                )
            )

    def sum_point(name: str, attrs: dict[str, Any], value: int, start: int) -> None:
        sums.setdefault(name, []).append(
            NumberDataPoint(
                attributes=attrs, start_time_unix_nano=start, time_unix_nano=now, value=value
            )
        )

    def quality(name: str, attrs: dict[str, Any], f: FeatureState, start: int) -> None:
        sum_point(name, attrs, f.missing, start)
        for issue, n in (("nan", f.nan), ("inf", f.inf), ("type_mismatch", f.mismatch)):
            if n:
                sum_point(
                    semconv.FEATURE_INVALID.name, {**attrs, semconv.QUALITY_ISSUE: issue}, n, start
                )

    for key, seg in state.series.items():
        model, version, env, segment = key
        start = state.start[key] if state.cumulative else state.last
        base = {
            semconv.MODEL_NAME: model,
            semconv.MODEL_VERSION: version,
            semconv.ENVIRONMENT: env,
        }
        seg_attrs = {**base, semconv.SEGMENT: segment}
        sum_point(semconv.PREDICTION_COUNT.name, seg_attrs, seg.rows, start)
        for f in seg.features.values():
            attrs = {**seg_attrs, semconv.FEATURE_NAME: f.name}
            if f.hist is not None:
                hist_point(semconv.FEATURE_VALUES.name, attrs, f.hist, start)
            if f.cats is not None:
                for cat, n in f.cats.counts.items():
                    sum_point(
                        semconv.FEATURE_CATEGORY_COUNT.name,
                        {**attrs, semconv.FEATURE_CATEGORY: cat},
                        n,
                        start,
                    )
            quality(semconv.FEATURE_MISSING.name, attrs, f, start)
        if seg.values is not None and seg.values.hist is not None:
            hist_point(semconv.PREDICTION_VALUES.name, seg_attrs, seg.values.hist, start)
        if seg.labels is not None and seg.labels.cats is not None:
            for label, n in seg.labels.cats.counts.items():
                sum_point(
                    semconv.PREDICTION_LABEL_COUNT.name,
                    {**seg_attrs, semconv.PREDICTION_LABEL: label},
                    n,
                    start,
                )
        if segment == "" and seg.duration is not None:
            hist_point(semconv.PREDICT_DURATION.name, base, seg.duration, start)
    self_start = state.created if state.cumulative else state.last
    for spec, counts in (
        (semconv.INSTRUMENTATION_ERRORS, state.errors),
        (semconv.INSTRUMENTATION_DROPPED, state.dropped),
    ):
        for kind, n in counts.items():
            sum_point(spec.name, {semconv.ERROR_KIND: kind}, n, self_start)

    specs = {spec.name: spec for spec in semconv.INSTRUMENTATION_METRICS}
    metrics: list[Any] = []
    for name, points in fixed.items():
        spec = specs[name]
        data = Histogram(data_points=points, aggregation_temporality=temporality)
        metrics.append(Metric(name, spec.description, spec.unit, data))
    for name, points in expo.items():
        spec = specs[name]
        edata = ExponentialHistogram(data_points=points, aggregation_temporality=temporality)
        metrics.append(Metric(name, spec.description, spec.unit, edata))
    for name, points in sums.items():
        spec = specs[name]
        sdata = Sum(data_points=points, aggregation_temporality=temporality, is_monotonic=True)
        metrics.append(Metric(name, spec.description, spec.unit, sdata))
    return metrics


class MetricsHub:
    """Registry of model aggregators, hooked into SDK metric readers as a metric producer."""

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str, str], ModelAggregator] = {}
        self._readers: weakref.WeakKeyDictionary[Any, _ReaderState] = weakref.WeakKeyDictionary()
        self._providers: weakref.WeakSet[Any] = weakref.WeakSet()

    def aggregator(
        self, key: tuple[str, str, str], make: Callable[[], ModelAggregator]
    ) -> ModelAggregator:
        """Return the aggregator of (model, version, environment), creating it with ``make``."""
        with self._lock:
            agg = self._models.get(key)
            if agg is None:
                agg = self._models[key] = make()
            return agg

    # ------------------------------------------------------------------ hooking readers
    def attach(self, meter_provider: Any) -> bool:
        """Hook every reader of an SDK ``MeterProvider``; False when it is not an SDK provider."""
        try:
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics._internal.instrument import _Histogram
            from opentelemetry.sdk.metrics.export import AggregationTemporality
        except ImportError:
            return False
        if not isinstance(meter_provider, MeterProvider):
            return False
        with self._lock:
            if meter_provider in self._providers:
                return True
            # Private SDK attributes: pinned by tests against the installed SDK version.
            config = meter_provider._sdk_config
            readers = list(getattr(meter_provider, "_metric_readers", ()))
            consumer = getattr(meter_provider, "_measurement_consumer", None)
            for reader in getattr(consumer, "_reader_storages", {}):
                if reader not in readers:
                    readers.append(reader)
            for reader in readers:
                if reader in self._readers:
                    continue
                temporality = reader._instrument_class_temporality.get(_Histogram)
                cumulative = temporality != AggregationTemporality.DELTA
                self._readers[reader] = _ReaderState(cumulative, self._clock())
                self._wrap(reader, config)
            self._providers.add(meter_provider)
        return True

    def _wrap(self, reader: Any, config: Any) -> None:
        original = reader._collect
        hub = weakref.ref(self)

        def collect(r: Any, timeout_millis: float = 10_000) -> Any:
            data = original(r, timeout_millis=timeout_millis) if original is not None else None
            h = hub()
            if h is None:
                return data
            try:
                return h._produce(r, data, config.resource)
            except Exception as exc:
                GUARD.error("metrics_export", exc)
                return data

        collect.__otelml_original__ = original  # type: ignore[attr-defined]
        reader._collect = collect

    def detach(self, meter_provider: Any) -> None:
        """Unhook the readers of ``meter_provider`` and forget their pending state."""
        with self._lock:
            for reader in list(self._readers):
                original = getattr(reader._collect, "__otelml_original__", False)
                if original is not False and (
                    getattr(original, "__self__", None)
                    is getattr(meter_provider, "_measurement_consumer", object())
                ):
                    reader._collect = original
                    del self._readers[reader]
            self._providers.discard(meter_provider)

    # ------------------------------------------------------------------ producing
    def _drain(self, now: int) -> None:
        deltas: list[tuple[SeriesKey, SegmentState]] = []
        for agg in list(self._models.values()):
            for segment, seg in agg.collect().items():
                deltas.append(((*agg.key, segment), seg))
        errors, dropped = GUARD.take()
        for state in self._readers.values():
            state.absorb(deltas, errors, dropped, now)

    def _produce(self, reader: Any, data: Any, resource: Any) -> Any:
        from opentelemetry.sdk.metrics.export import MetricsData, ResourceMetrics, ScopeMetrics
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        with self._lock:
            state = self._readers.get(reader)
            if state is None:
                return data
            now = self._clock()
            self._drain(now)
            metrics = state.emit(now)
        if not metrics:
            return data
        scope = InstrumentationScope(
            semconv.INSTRUMENTATION_SCOPE, _version(), semconv_schema_url()
        )
        ours = ScopeMetrics(scope=scope, metrics=metrics, schema_url=scope.schema_url or "")
        if data is None:
            return MetricsData(
                resource_metrics=[
                    ResourceMetrics(
                        resource=resource, scope_metrics=[ours], schema_url=resource.schema_url
                    )
                ]
            )
        first = data.resource_metrics[0]
        first.scope_metrics.append(ours)
        return data

    def drain_now(self) -> None:
        """Move pending counts into every reader's state (e.g. before shutdown)."""
        with self._lock:
            self._drain(self._clock())


def _version() -> str:
    from otelml._version import __version__

    return __version__


def semconv_schema_url() -> str:
    """Return the schema URL of the otelml scope (empty: no published schema yet)."""
    return ""


HUB = MetricsHub()
"""The process-wide hub."""
