"""OTLP explicit-bucket histogram points → observations, checked by numpy a layout at a time.

Called by :func:`otelml.processor.receive.ingest.ingest_metrics` for ``histogram`` metrics; the
attribute parsing, stream ids and time checks are the same as for other points (ingest.py).
"""

from __future__ import annotations

from typing import Any

from otelml.processor.receive.points import HistBatch, PointError, hist_value
from otelml.processor.receive.series import (
    IngestOptions,
    MetricSpec,
    Parsed,
    WindowClock,
    parsed_cache,
    point_series,
    stream_id,
)
from otelml.processor.state.aggregator import SeriesKey
from otelml.processor.state.observations import IngestResult, Observation
from otelml.processor.state.temporality import HistPoint


def histograms(
    res: IngestResult,
    name: str,
    spec: MetricSpec,
    points: Any,
    prefix: bytes | None,
    opts: IngestOptions,
) -> None:
    """Add the observations of one explicit-bucket histogram metric.

    The loop only collects each point's fields (bounds and bucket counts as their packed bytes);
    the bucket counts of all points with one layout are then checked by numpy at once
    (:class:`~otelml.processor.receive.points.HistBatch`). Points are refused for the same reasons,
    in the same order of checks and of points, as :func:`hist_value` point by point gives.
    """
    clock = WindowClock(res.now, opts)
    limit = opts.max_attribute_length
    cache = parsed_cache(name)
    batch = HistBatch()
    add = batch.add
    # Columns of the points that passed the checks made in the loop.
    order: list[int] = []
    keys: list[SeriesKey] = []
    labels: list[str] = []
    rows: list[int] = []
    windows: list[int | PointError] = []
    streams: list[str | None] = []
    starts: list[int] = []
    times: list[int] = []
    refused: list[tuple[int, PointError]] = []
    for i, dp in enumerate(points):
        try:
            raw = tuple(dp.attributes)
            parsed = cache.get(raw)
            if type(parsed) is not Parsed or parsed.longest > limit:
                parsed = point_series(name, spec, raw, limit, cache)
            b, c = dp.explicit_bounds, dp.bucket_counts
            braw = b[0] if len(b) == 1 else b"".join(b)
            craw = c[0] if len(c) == 1 else b"".join(c)
            if braw and craw:
                rows.append(add(braw, craw, dp))
            else:  # unpacked arrays (legal, rare) or no buckets: decode the point fully
                rows.append(batch.add_value(_full_hist(dp)))
        except PointError as exc:
            refused.append((i, exc))
            continue
        order.append(i)
        keys.append(parsed.key)
        labels.append(parsed.label)
        t = dp.time_unix_nano
        times.append(t)
        windows.append(clock.result if t == clock.last else clock.window(t))
        start = dp.start_time_unix_nano
        starts.append(start)
        stream = None
        if prefix is not None:
            stream = parsed.streams.get((prefix, start))
            if stream is None:
                stream = stream_id(prefix, parsed, start)
        streams.append(stream)
    values = batch.finish()
    obs_kind = spec.obs_kind
    append = res.observations.append
    for i, key, label, row, ws, stream, start, t in zip(
        order, keys, labels, rows, windows, streams, starts, times, strict=True
    ):
        value = values[row]
        if isinstance(value, PointError):
            refused.append((i, value))
        elif isinstance(ws, PointError):
            refused.append((i, ws))
        else:
            append(Observation(key, ws, obs_kind, label, value, stream, start, t))
    if refused:
        refused.sort(key=lambda x: x[0])  # reasons in point order, as checked one by one
        for _, err in refused:
            res.reject(err.reason, f"{name}: {err}")


def _full_hist(dp: Any) -> HistPoint:
    from opentelemetry.proto.metrics.v1 import metrics_pb2

    return hist_value(metrics_pb2.HistogramDataPoint.FromString(dp.SerializeToString()))
