"""OTLP metrics → observations (pure functions).

A decoded request and the options in, an :class:`IngestResult` out. Nothing here touches state;
the store's writer converts cumulative observations to deltas
(:mod:`otelml.processor.state.temporality`) and turns them into updates
(:func:`otelml.processor.state.updates.to_updates`).

One bad data point never fails the request: it is counted as rejected with a reason, and the
first few reasons go back to the client in OTLP ``partial_success``. Points of metrics that are
not otelml's are accepted and ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from otelml.processor.receive.histograms import histograms
from otelml.processor.receive.otlp import LazyMetricsRequest, lazy_metrics
from otelml.processor.receive.points import (
    PointError,
    count_value,
    expo_value,
)
from otelml.processor.receive.series import (
    METRICS,
    IngestOptions,
    MetricSpec,
    Parsed,
    WindowClock,
    parsed_cache,
    point_series,
    stream_id,
)
from otelml.processor.state.observations import (
    IngestResult,
    Observation,
)
from otelml.processor.state.temporality import Value
from otelml.processor.state.window import MAX_COUNT

_DELTA, _CUMULATIVE = 1, 2  # AggregationTemporality enum values
_NS = 1_000_000_000


def ingest_metrics(request: Any, opts: IngestOptions, now: float) -> IngestResult:
    """Return the observations of an ExportMetricsServiceRequest and what it refused.

    ``request`` is best a :data:`~otelml.processor.receive.otlp.LazyMetricsRequest` (what the
    receivers decode); a regular one is re-encoded first.
    """
    request = lazy_metrics(request)
    res = IngestResult("metrics", now, request)
    for rm in request.resource_metrics:
        resource: bytes | None = None
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                data = getattr(m, kind) if kind is not None else None
                n = len(data.data_points) if data is not None else 0
                res.items += n
                spec = METRICS.get(m.name)
                if spec is None or n == 0:
                    continue
                res.ours += n
                if kind not in spec.kinds:
                    res.reject("invalid_point", f"{m.name}: unsupported metric kind {kind}", n)
                    continue
                temporality = data.aggregation_temporality  # type: ignore[union-attr]
                if temporality not in (_DELTA, _CUMULATIVE):
                    res.reject("invalid_point", f"{m.name}: aggregation temporality unset", n)
                    continue
                prefix = None
                if temporality == _CUMULATIVE:
                    if resource is None:
                        resource = hashlib.blake2b(
                            rm.resource.SerializeToString(deterministic=True), digest_size=16
                        ).digest()
                    prefix = resource + f"\x00{sm.scope.name}\x00{m.name}\x00".encode()
                points = data.data_points  # type: ignore[union-attr]
                if kind == "histogram":
                    histograms(res, m.name, spec, points, prefix, opts)
                else:
                    value_of = expo_value if kind == "exponential_histogram" else count_value
                    _points(res, m.name, spec, points, prefix, opts, value_of)
    return res


def _points(
    res: IngestResult,
    name: str,
    spec: MetricSpec,
    points: Any,
    prefix: bytes | None,
    opts: IngestOptions,
    value_of: Callable[[Any], Value],
) -> None:
    """Add the observations of one sum or exponential histogram metric, point by point."""
    append = res.observations.append
    clock = WindowClock(res.now, opts)
    limit, obs_kind = opts.max_attribute_length, spec.obs_kind
    cache = parsed_cache(name)
    sums = value_of is count_value
    for dp in points:
        try:
            raw = tuple(dp.attributes)
            parsed = cache.get(raw)
            if type(parsed) is not Parsed or parsed.longest > limit:
                parsed = point_series(name, spec, raw, limit, cache)
            # A positive as_int is the value set (the usual case); else check it all.
            value: Value = n if sums and 0 < (n := dp.as_int) <= MAX_COUNT else value_of(dp)
            t = dp.time_unix_nano
            ws = clock.result if t == clock.last else clock.window(t)
            if isinstance(ws, PointError):
                raise ws
        except PointError as exc:
            res.reject(exc.reason, f"{name}: {exc}")
            continue
        start = dp.start_time_unix_nano
        stream = None
        if prefix is not None:
            stream = parsed.streams.get((prefix, start))
            if stream is None:
                stream = stream_id(prefix, parsed, start)
        append(Observation(parsed.key, ws, obs_kind, parsed.label, value, stream, start, t))


def metrics_replayer(opts: IngestOptions) -> Callable[[bytes, float], IngestResult]:
    """Return how the store replays a logged metrics request: the same ingest, same receive time."""

    def replay(data: bytes, received_at: float) -> IngestResult:
        return ingest_metrics(LazyMetricsRequest.FromString(data), opts, received_at)

    return replay
