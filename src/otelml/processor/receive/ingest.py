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
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1 import common_pb2

from otelml import semconv
from otelml.processor.receive.otlp import lazy_metrics
from otelml.processor.receive.points import (
    PointError,
    count_value,
    expo_value,
)
from otelml.processor.state.aggregator import PREDICTION_FEATURE, SeriesKey, Update, align
from otelml.processor.state.temporality import Value

NUMERIC, CATEGORY, MISSING, INVALID, ROWS = range(5)
"""Observation kinds: where a value goes in a :class:`FeatureWindow`."""

_DELTA, _CUMULATIVE = 1, 2  # AggregationTemporality enum values
_MAX_ERRORS = 5
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """What ingestion needs to know from the config."""

    resolution_s: int = 60
    retention_s: int = 7 * 86400
    max_attribute_length: int = 256
    max_categories: int = 100
    max_span_features: int = 500
    max_future_s: int = 3600
    """Points stamped further than this in the future are rejected (clock skew allowance)."""

    @classmethod
    def from_config(cls, config: Any) -> IngestOptions:
        """Return the options of a :class:`~otelml.processor.config.ProcessorConfig`."""
        return cls(
            resolution_s=config.state.resolution_s,
            retention_s=config.state.retention_s,
            max_attribute_length=config.limits.max_attribute_length,
            max_categories=config.limits.max_categories_per_feature,
            max_span_features=config.limits.max_span_features,
        )


class Observation(NamedTuple):
    """One data point's contribution, before cumulative-to-delta conversion."""

    key: SeriesKey
    window_start: int
    kind: int
    label: str
    value: Value
    stream: str | None
    """Cumulative stream id, None for a delta point."""
    start_ns: int
    time_ns: int


@dataclass(frozen=True, slots=True)
class LogEvent:
    """An ``ml.prediction`` / ``ml.actual`` log record, for the ground-truth join."""

    name: str
    attributes: dict[str, Any]
    time_ns: int


@dataclass
class IngestResult:
    """What one request carried: observations or ready updates, and what was refused."""

    signal: str
    now: float = 0.0
    """The receive time the request was ingested with (replays use it again)."""
    request: Any = None
    """The decoded metrics request, which the store logs as it came (None for other signals)."""
    items: int = 0
    ours: int = 0
    observations: list[Observation] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    events: list[LogEvent] = field(default_factory=list)
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def reject(self, reason: str, message: str, n: int = 1) -> None:
        """Count ``n`` refused items under ``reason`` and keep the first messages."""
        self.rejected += n
        self.reasons[reason] = self.reasons.get(reason, 0) + n
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(message)

    @property
    def error_message(self) -> str:
        """Return the partial-success message (first few reasons)."""
        more = self.rejected - len(self.errors)
        tail = f"; and {more} more" if more > 0 and len(self.errors) == _MAX_ERRORS else ""
        return "; ".join(self.errors) + tail

    @property
    def has_data(self) -> bool:
        """Return whether there is anything to make durable."""
        return bool(self.observations or self.updates)


@dataclass(frozen=True, slots=True)
class _MetricSpec:
    kinds: frozenset[str]
    obs_kind: int
    prediction: bool
    label_attr: str | None


_HIST = frozenset({"histogram", "exponential_histogram"})
_SUM = frozenset({"sum"})
METRICS: dict[str, _MetricSpec] = {
    semconv.FEATURE_VALUES.name: _MetricSpec(_HIST, NUMERIC, False, None),
    semconv.FEATURE_CATEGORY_COUNT.name: _MetricSpec(
        _SUM, CATEGORY, False, semconv.FEATURE_CATEGORY
    ),
    semconv.FEATURE_MISSING.name: _MetricSpec(_SUM, MISSING, False, None),
    semconv.FEATURE_INVALID.name: _MetricSpec(_SUM, INVALID, False, semconv.QUALITY_ISSUE),
    semconv.PREDICTION_VALUES.name: _MetricSpec(_HIST, NUMERIC, True, None),
    semconv.PREDICTION_LABEL_COUNT.name: _MetricSpec(
        _SUM, CATEGORY, True, semconv.PREDICTION_LABEL
    ),
    semconv.PREDICTION_COUNT.name: _MetricSpec(_SUM, ROWS, True, None),
}
"""The metrics the processor aggregates; every other metric is accepted and ignored."""


def check_time(time_ns: int, now: float, opts: IngestOptions) -> int:
    """Return the window start of a point stamped ``time_ns`` (0: now), or raise PointError."""
    t = time_ns / _NS if time_ns else now
    if t > now + opts.max_future_s:
        raise PointError("invalid_point", "timestamp too far in the future")
    ws = align(t, opts.resolution_s)
    if ws < align(now - opts.retention_s, opts.resolution_s):
        raise PointError("invalid_point", "timestamp older than the retention")
    return ws


_KNOWN_ATTRS = frozenset(
    {
        semconv.MODEL_NAME,
        semconv.MODEL_VERSION,
        semconv.ENVIRONMENT,
        semconv.SEGMENT,
        semconv.FEATURE_NAME,
        semconv.FEATURE_CATEGORY,
        semconv.QUALITY_ISSUE,
        semconv.PREDICTION_LABEL,
    }
)


class _Parsed(NamedTuple):
    """What a data point's attributes say, cached per (metric, attribute bytes)."""

    key: SeriesKey
    label: str
    ident: bytes
    """Every attribute, canonical, for the cumulative stream id."""
    longest: int
    """Length of the longest contract string (checked against the limit on every use)."""
    streams: dict[tuple[bytes, int], str]
    """Stream ids already computed for (resource/scope/metric prefix, start time)."""


_PARSED: dict[str, dict[tuple[bytes, ...], _Parsed | PointError]] = {}
"""Metric name -> serialized point attributes -> what they say."""
_PARSED_MAX = 100_000
_KEYS: dict[SeriesKey, SeriesKey] = {}
"""Interned series keys: points of one series share one key object (cheap identity lookups
downstream) even when their other attributes (replica, host) differ."""


def _parse_attrs(name: str, spec: _MetricSpec, raw: tuple[bytes, ...]) -> _Parsed:
    """Return the parsed attributes of a point of metric ``name`` (raise PointError)."""
    strs: dict[str, str] = {}
    extra: list[bytes] = []
    for b in raw:
        try:
            kv = common_pb2.KeyValue.FromString(b)
        except DecodeError as exc:
            raise PointError("invalid_point", "malformed attribute") from exc
        k = kv.key
        if k in _KNOWN_ATTRS:
            if kv.value.WhichOneof("value") != "string_value":
                raise PointError("invalid_point", f"{k}: expected a string")
            strs[k] = kv.value.string_value
        else:
            extra.append(b)
    model = strs.get(semconv.MODEL_NAME)
    if not model:
        raise PointError("invalid_point", f"{semconv.MODEL_NAME} missing")
    if spec.prediction:
        feature = PREDICTION_FEATURE
    else:
        feature = strs.get(semconv.FEATURE_NAME, "")
        if not feature or feature == PREDICTION_FEATURE:
            raise PointError("invalid_point", f"{semconv.FEATURE_NAME} missing or reserved")
    label = ""
    if spec.label_attr is not None:
        label = strs.get(spec.label_attr, "")
        if not label:
            raise PointError("invalid_point", f"{spec.label_attr} missing")
    key = SeriesKey(
        model,
        strs.get(semconv.MODEL_VERSION, ""),
        strs.get(semconv.ENVIRONMENT) or semconv.DEFAULT_ENVIRONMENT,
        feature,
        strs.get(semconv.SEGMENT, ""),
    )
    key = _KEYS.setdefault(key, key)
    ident = "\x00".join((*key, label)).encode() + b"".join(b"\x00" + e for e in sorted(extra))
    return _Parsed(key, label, ident, max(map(len, strs.values()), default=0), {})


def _stream_id(prefix: bytes, parsed: _Parsed, start: int) -> str:
    # A series normally keeps one resource and start time; a few more are remembered so that
    # replicas sharing attributes (no service.instance.id) do not thrash.
    h = hashlib.blake2b(prefix, digest_size=16)
    h.update(parsed.ident)
    h.update(str(start).encode())
    stream = h.hexdigest()
    if len(parsed.streams) >= 16:
        parsed.streams.clear()
    parsed.streams[(prefix, start)] = stream
    return stream


def _attrs(
    name: str,
    spec: _MetricSpec,
    raw: tuple[bytes, ...],
    limit: int,
    cache: dict[tuple[bytes, ...], _Parsed | PointError],
) -> _Parsed:
    """Return the parsed attributes of a point (cached in ``cache``); raise PointError."""
    parsed = cache.get(raw)
    if parsed is None:
        try:
            parsed = _parse_attrs(name, spec, raw)
        except PointError as exc:
            parsed = exc
        if len(cache) >= _PARSED_MAX:
            cache.clear()  # crude but bounded; the cache refills from live series
            _KEYS.clear()
        cache[raw] = parsed
    if isinstance(parsed, PointError):
        raise parsed
    if parsed.longest > limit:
        raise PointError("too_long", f"an attribute is longer than {limit} characters")
    return parsed


def _cache(name: str) -> dict[tuple[bytes, ...], _Parsed | PointError]:
    cache = _PARSED.get(name)
    if cache is None:
        cache = _PARSED[name] = {}
    return cache


def ingest_metrics(request: Any, opts: IngestOptions, now: float) -> IngestResult:
    """Return the observations of an ExportMetricsServiceRequest and what it refused.

    ``request`` is best a :data:`~otelml.processor.receive.otlp.LazyMetricsRequest` (what the
    receivers decode); a regular one is re-encoded first.
    """
    # Imported here, not at the top: ingest_hist builds on this module's parsing helpers.
    from otelml.processor.receive.histograms import histograms

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


class _Clock:
    """Window starts of point timestamps: points of one export share their time."""

    __slots__ = ("last", "now", "opts", "result")

    def __init__(self, now: float, opts: IngestOptions) -> None:
        self.now, self.opts = now, opts
        self.last = -1
        self.result: int | PointError = 0

    def window(self, t: int) -> int | PointError:
        if t != self.last:
            try:
                self.result = check_time(t, self.now, self.opts)
            except PointError as exc:
                self.result = exc
            self.last = t
        return self.result


def _points(
    res: IngestResult,
    name: str,
    spec: _MetricSpec,
    points: Any,
    prefix: bytes | None,
    opts: IngestOptions,
    value_of: Callable[[Any], Value],
) -> None:
    """Add the observations of one sum or exponential histogram metric, point by point."""
    append = res.observations.append
    clock = _Clock(res.now, opts)
    limit, obs_kind = opts.max_attribute_length, spec.obs_kind
    cache = _cache(name)
    sums = value_of is count_value
    for dp in points:
        try:
            raw = tuple(dp.attributes)
            parsed = cache.get(raw)
            if type(parsed) is not _Parsed or parsed.longest > limit:
                parsed = _attrs(name, spec, raw, limit, cache)
            # A positive as_int is the value set (the usual case); else check it all.
            value: Value = n if sums and (n := dp.as_int) > 0 else value_of(dp)
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
                stream = _stream_id(prefix, parsed, start)
        append(Observation(parsed.key, ws, obs_kind, parsed.label, value, stream, start, t))
