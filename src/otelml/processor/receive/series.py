"""Which series an OTLP data point belongs to: its attributes, stream id and window.

Shared by the point-by-point path (:mod:`otelml.processor.receive.ingest`) and the
layout-at-a-time histogram path (:mod:`otelml.processor.receive.histograms`), so that both
refuse the same points for the same reasons.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1 import common_pb2

from otelml import semconv
from otelml._categories import canonical
from otelml.processor.receive.points import PointError
from otelml.processor.state.aggregator import PREDICTION_FEATURE, SeriesKey, align
from otelml.processor.state.observations import CATEGORY, INVALID, MISSING, NUMERIC, ROWS

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
    horizon_s: int = 14 * 86400
    """Prediction and actual records older than this are refused (the join's lateness)."""

    @classmethod
    def from_config(cls, config: Any) -> IngestOptions:
        """Return the options of a :class:`~otelml.processor.config.ProcessorConfig`."""
        return cls(
            resolution_s=config.state.resolution_s,
            retention_s=config.state.retention_s,
            max_attribute_length=config.limits.max_attribute_length,
            max_categories=config.limits.max_categories_per_feature,
            max_span_features=config.limits.max_span_features,
            max_future_s=config.limits.max_future_s,
            horizon_s=config.joins.horizon_s,
        )


@dataclass(frozen=True, slots=True)
class MetricSpec:
    kinds: frozenset[str]
    obs_kind: int
    prediction: bool
    label_attr: str | None


_HIST = frozenset({"histogram", "exponential_histogram"})
_SUM = frozenset({"sum"})
METRICS: dict[str, MetricSpec] = {
    semconv.FEATURE_VALUES.name: MetricSpec(_HIST, NUMERIC, False, None),
    semconv.FEATURE_CATEGORY_COUNT.name: MetricSpec(
        _SUM, CATEGORY, False, semconv.FEATURE_CATEGORY
    ),
    semconv.FEATURE_MISSING.name: MetricSpec(_SUM, MISSING, False, None),
    semconv.FEATURE_INVALID.name: MetricSpec(_SUM, INVALID, False, semconv.QUALITY_ISSUE),
    semconv.PREDICTION_VALUES.name: MetricSpec(_HIST, NUMERIC, True, None),
    semconv.PREDICTION_LABEL_COUNT.name: MetricSpec(_SUM, CATEGORY, True, semconv.PREDICTION_LABEL),
    semconv.PREDICTION_COUNT.name: MetricSpec(_SUM, ROWS, True, None),
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


_CATEGORY_ATTRS = frozenset({semconv.FEATURE_CATEGORY, semconv.PREDICTION_LABEL})
_SCALARS = frozenset({"int_value", "double_value", "bool_value"})


class Parsed(NamedTuple):
    """What a data point's attributes say, cached per (metric, attribute bytes)."""

    key: SeriesKey
    label: str
    ident: bytes
    """Every attribute, canonical, for the cumulative stream id."""
    longest: int
    """Length of the longest contract string (checked against the limit on every use)."""
    streams: dict[tuple[bytes, int], str]
    """Stream ids already computed for (resource/scope/metric prefix, start time)."""


_PARSED: dict[str, dict[tuple[bytes, ...], Parsed | PointError]] = {}
"""Metric name -> serialized point attributes -> what they say."""
_PARSED_MAX = 100_000
_KEYS: dict[SeriesKey, SeriesKey] = {}
"""Interned series keys: points of one series share one key object (cheap identity lookups
downstream) even when their other attributes (replica, host) differ."""


def _parse_attrs(name: str, spec: MetricSpec, raw: tuple[bytes, ...]) -> Parsed:
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
            kind = kv.value.WhichOneof("value")
            if kind == "string_value":
                strs[k] = kv.value.string_value
            elif k in _CATEGORY_ATTRS and kind in _SCALARS:
                # A category typed as a number: spelled as the client spells it, 1.0 as "1".
                v = getattr(kv.value, kind)
                if not math.isfinite(v):
                    raise PointError("invalid_point", f"{k}: expected a finite number")
                strs[k] = canonical(v)
                extra.append(b)  # its own cumulative stream beside a string-typed one
            else:
                raise PointError("invalid_point", f"{k}: expected a string")
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
    return Parsed(key, label, ident, max(map(len, strs.values()), default=0), {})


def stream_id(prefix: bytes, parsed: Parsed, start: int) -> str:
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


def point_series(
    name: str,
    spec: MetricSpec,
    raw: tuple[bytes, ...],
    limit: int,
    cache: dict[tuple[bytes, ...], Parsed | PointError],
) -> Parsed:
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


def parsed_cache(name: str) -> dict[tuple[bytes, ...], Parsed | PointError]:
    cache = _PARSED.get(name)
    if cache is None:
        cache = _PARSED[name] = {}
    return cache


class WindowClock:
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
