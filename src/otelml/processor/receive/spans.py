"""OTLP spans → updates (pure functions): distributions from the attributes of predict spans.

Apps that emit only spans (other languages, or metrics turned off) give the same distributions
from their ``predict`` spans: every ``ml.features.<name>`` attribute is one observed value
(numbers into a base-2 exponential histogram, strings and booleans into category counts, NaN and
±inf counted as invalid), ``ml.prediction.value`` / ``ml.prediction.label`` (a category however
typed: ``1``, ``1.0`` and ``"1"`` are ``"1"``) feed the prediction series, and ``ml.batch.size``
(default 1) its row count. Booleans and segment values are spelled by
:func:`otelml._categories.canonical`, as the client spells them. Array-valued attributes (sampled
rows of a batch) give one value per element. A span with ``ml.telemetry.aggregated=true`` is
skipped: its process also exports the metrics, which already counted it.

A span with ``ml.segments.<column>`` attributes counts in its segment and in the all-rows
series (segment ``""``). Log records are read by :mod:`otelml.processor.receive.logs`.
"""

from __future__ import annotations

import math
import struct
from typing import Any, NamedTuple

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1 import common_pb2

from otelml import semconv
from otelml._categories import canonical
from otelml.processor.receive.otlp import any_value, lazy_traces
from otelml.processor.receive.points import PointError
from otelml.processor.receive.series import IngestOptions, check_time
from otelml.processor.receive.spanwindows import Groups, SpanAcc, finish
from otelml.processor.state.aggregator import PREDICTION_FEATURE
from otelml.processor.state.observations import IngestResult
from otelml.processor.state.window import MAX_COUNT

MAX_BATCH_SIZE = 2**32
"""The most rows one predict span may stand for (a larger ``ml.batch.size`` is refused)."""
assert MAX_BATCH_SIZE < MAX_COUNT
_FEATURE_PREFIX = semconv.FEATURE_PREFIX
_SEGMENT_PREFIX = semconv.SEGMENT_PREFIX
_FLEN = len(_FEATURE_PREFIX)
_SLEN = len(_SEGMENT_PREFIX)

# What a span attribute is for (``_Attr.slot``).
_IGNORED, _FEATURE, _SEGMENT, _MODEL, _VERSION, _ENV, _AGG, _BATCH, _PVALUE, _PLABEL = range(10)
_MALFORMED = -1
_FIXED_SLOTS = {
    semconv.MODEL_NAME: _MODEL,
    semconv.MODEL_VERSION: _VERSION,
    semconv.ENVIRONMENT: _ENV,
    semconv.AGGREGATED: _AGG,
    semconv.BATCH_SIZE: _BATCH,
    semconv.PREDICTION_VALUE: _PVALUE,
    semconv.PREDICTION_LABEL: _PLABEL,
}
_OURS = b"ml."  # every key above starts with it

_pack = struct.Struct("<d").pack


class _Attr(NamedTuple):
    """What one serialized ``KeyValue`` says, parsed once and cached by its bytes."""

    slot: int
    name: str
    """Feature name or segment column (prefix removed); the key otherwise."""
    value: Any
    """Model / version / environment: the ``any_value``; feature and prediction values: float,
    str, list or None as observed; segments: the value as a string; the aggregated flag and
    batch size: ``bool_value`` / ``int_value``."""
    longest: int
    """Longest string inside ``value`` (checked against the length limit on use)."""
    need: int = 0
    """Features: the length limit this attribute needs (name and value)."""
    use: bool = False
    """Features: whether the name counts (not empty, not the reserved prediction name)."""


def _feature(name: str, value: Any, longest: int) -> _Attr:
    return _Attr(
        _FEATURE, name, value, longest, max(len(name), longest),
        bool(name) and name != PREDICTION_FEATURE,
    )  # fmt: skip


_IGNORE = _Attr(_IGNORED, "", None, 0)
_BAD = _Attr(_MALFORMED, "", None, 0)

# Three caches. ``_DOUBLES`` maps the canonical encoding of a feature's (``_PV_DOUBLES``: the
# prediction's)
# KeyValue *minus its 8 value bytes* to the attribute, so a double-valued attribute, whose bytes
# are unique, is recognised with one slice and one lookup and its value read later, in bulk, by
# numpy. A hit means the blob is exactly ``key`` + ``double_value``: the prefix pins every byte
# but the value. ``_WHOLE`` maps entire blobs of other values (strings, booleans: few distinct).
_DOUBLES: dict[bytes, _Attr] = {}
_PV_DOUBLES: dict[bytes, _Attr] = {}
_WHOLE: dict[bytes, _Attr] = {}
_CACHE_MAX = 65_536


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _observed(v: Any, label: bool = False) -> tuple[Any, int]:
    """Return a feature value as the spans observe it (float, str, list, None) and its longest
    string (arrays give their float and string elements; nested arrays are dropped but their
    strings still count against the length limit). A ``label`` is a category however typed: its
    finite numbers are spelled as the client spells them (``1`` and ``1.0``: ``"1"``)."""
    kind = v.WhichOneof("value")
    if kind == "double_value":
        d = v.double_value
        return (canonical(d) if label and math.isfinite(d) else d), 0
    if kind == "string_value":
        return v.string_value, len(v.string_value)
    if kind == "int_value":
        return (canonical(v.int_value) if label else float(v.int_value)), 0
    if kind == "bool_value":
        return canonical(v.bool_value), 0
    if kind == "array_value":
        out, longest = [], 0
        for x in v.array_value.values:
            item, n = _observed(x, label)
            longest = max(longest, n)
            if item is not None and not isinstance(item, list):
                out.append(item)
        return out, longest
    return None, 0


def _longest(v: Any) -> int:
    if isinstance(v, str):
        return len(v)
    if isinstance(v, list):
        return max(map(_longest, v), default=0)
    return 0


def _classify(blob: bytes) -> tuple[_Attr, bool]:
    """Return what a serialized KeyValue says and whether it is a canonical double attribute
    (then its value is the blob's last 8 bytes); caches the answer when it can repeat."""
    if (
        len(blob) > 2
        and blob[0] == 0x0A  # canonical: the key first, shorter than 128 bytes
        and blob[1] < 0x80
        and not blob[2 : 2 + blob[1]].startswith(_OURS)
    ):
        return _IGNORE, False  # another instrumentation's attribute: not even parsed
    try:
        kv = common_pb2.KeyValue.FromString(blob)
    except DecodeError:
        return _BAD, False
    key, v = kv.key, kv.value
    kind = v.WhichOneof("value")
    if key.startswith(_FEATURE_PREFIX):
        value, longest = _observed(v)
        attr = _feature(key[_FLEN:], value, longest)
    elif key in _FIXED_SLOTS:
        slot = _FIXED_SLOTS[key]
        if slot in (_PVALUE, _PLABEL):
            value, longest = _observed(v, label=slot == _PLABEL)
        elif slot == _AGG:
            value, longest = v.bool_value, 0
        elif slot == _BATCH:
            value, longest = v.int_value, 0
        else:
            value = any_value(v)
            longest = _longest(value)
        attr = _Attr(slot, key, value, longest)
    elif key.startswith(_SEGMENT_PREFIX):
        attr = _Attr(_SEGMENT, key[_SLEN:], canonical(any_value(v)), 0)
    else:
        return _IGNORE, False
    if kind == "double_value" and attr.slot in (_FEATURE, _PVALUE):
        k = key.encode()
        prefix = b"\x0a" + _varint(len(k)) + k + b"\x12\x09\x21"
        if len(blob) == len(prefix) + 8 and blob.startswith(prefix):
            cache = _DOUBLES if attr.slot == _FEATURE else _PV_DOUBLES
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[prefix] = attr
            return attr, True
        return attr, False  # a double in another encoding: parsed every time (rare)
    if kind != "int_value" or attr.slot != _FEATURE:  # integers of a feature rarely repeat
        if len(_WHOLE) >= _CACHE_MAX:
            _WHOLE.clear()  # crude but bounded; refills from live attributes
        _WHOLE[blob] = attr
    return attr, False


def _str(v: Any, key: str, limit: int) -> str:
    if not isinstance(v, str):
        raise PointError("invalid_point", f"{key}: expected a string")
    if len(v) > limit:
        raise PointError("too_long", f"{key}: longer than {limit} characters")
    return v


def ingest_spans(request: Any, opts: IngestOptions, now: float) -> IngestResult:
    """Return the updates that an ExportTraceServiceRequest's predict spans carry.

    ``request`` is best a :data:`~otelml.processor.receive.otlp.LazyTracesRequest` (what the
    receivers decode); a regular one is re-encoded first.
    """
    request = lazy_traces(request)
    res = IngestResult("traces", now)
    groups: Groups = {}
    doubles_get, whole_get, pv_get = _DOUBLES.get, _WHOLE.get, _PV_DOUBLES.get
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            res.items += len(ss.spans)
            for span in ss.spans:
                # One pass over the attributes: features in order (a double as its 8 value
                # bytes, others as None), the last of each fixed key, segments in order.
                fattrs: list[_Attr] = []
                fvalues: list[bytes | None] = []
                segments: list[_Attr] = []
                fixed: dict[int, tuple[_Attr, bytes | None]] = {}
                malformed = False
                for blob in span.attributes:
                    attr = doubles_get(blob[:-8])
                    if attr is not None:
                        fattrs.append(attr)
                        fvalues.append(blob[-8:])
                        continue
                    attr = whole_get(blob)
                    raw = None
                    if attr is None:
                        attr = pv_get(blob[:-8])
                        if attr is not None:
                            raw = blob[-8:]
                        else:
                            attr, is_double = _classify(blob)
                            if is_double:
                                raw = blob[-8:]
                    slot = attr.slot
                    if slot == _FEATURE:
                        fattrs.append(attr)
                        fvalues.append(raw)
                    elif slot == _SEGMENT:
                        segments.append(attr)
                    elif slot > _SEGMENT:
                        fixed[slot] = (attr, raw)
                    elif slot == _MALFORMED:
                        malformed = True
                if _MODEL not in fixed:
                    continue
                res.ours += 1
                agg = fixed.get(_AGG)
                if agg is not None and agg[0].value:
                    continue
                try:
                    if malformed:
                        raise PointError("invalid_point", "malformed attribute")
                    _span(span, fixed, fattrs, fvalues, segments, opts, now, groups)
                except PointError as exc:
                    res.reject(exc.reason, f"span {span.name[:64]!r}: {exc}")
    res.updates = finish(groups, opts.max_categories)
    return res


def _fixed_str(fixed: dict[int, tuple[_Attr, bytes | None]], slot: int, limit: int) -> str:
    attr = fixed[slot][0]
    return _str(attr.value, attr.name, limit)


def _span(
    span: Any,
    fixed: dict[int, tuple[_Attr, bytes | None]],
    fattrs: list[_Attr],
    fvalues: list[bytes | None],
    raw_segments: list[_Attr],
    opts: IngestOptions,
    now: float,
    groups: Groups,
) -> None:
    limit = opts.max_attribute_length
    model = _fixed_str(fixed, _MODEL, limit)
    version = _fixed_str(fixed, _VERSION, limit) if _VERSION in fixed else ""
    env = (_fixed_str(fixed, _ENV, limit) if _ENV in fixed else "") or semconv.DEFAULT_ENVIRONMENT
    ws = check_time(span.end_time_unix_nano or span.start_time_unix_nano, now, opts)
    # Check everything before touching an accumulator: a refused span changes nothing.
    if len(fattrs) > opts.max_span_features:
        fattrs = fattrs[: opts.max_span_features]
        fvalues = fvalues[: opts.max_span_features]
    if fattrs and max(a.need for a in fattrs) > limit:
        for attr in fattrs:  # the first offender, as checking one by one finds it
            if len(attr.name) > limit:
                raise PointError("too_long", f"feature name longer than {limit} characters")
            if attr.use and attr.longest > limit:
                raise PointError("too_long", f"value longer than {limit} characters")
    segment_keys = [""]
    if raw_segments:
        seg = semconv.segment_key({a.name: a.value for a in raw_segments})
        if len(seg) > limit:
            raise PointError("too_long", f"{semconv.SEGMENT}: longer than {limit} characters")
        segment_keys.append(seg)
    batch = fixed.get(_BATCH)
    rows = int(batch[0].value) if batch is not None and batch[0].value > 0 else 1
    if rows > MAX_BATCH_SIZE:
        raise PointError("invalid_point", f"{semconv.BATCH_SIZE} above {MAX_BATCH_SIZE}")
    outputs = []
    for slot in (_PVALUE, _PLABEL):
        if slot in fixed:
            attr, raw = fixed[slot]
            if attr.longest > limit:
                raise PointError("too_long", f"value longer than {limit} characters")
            outputs.append(attr.value if raw is None else raw)
    for segment in segment_keys:
        group = groups.get((model, version, env, segment, ws))
        if group is None:
            group = groups[(model, version, env, segment, ws)] = {}
        acc = group.get(PREDICTION_FEATURE)
        if acc is None:
            acc = group[PREDICTION_FEATURE] = SpanAcc()
        for v in outputs:
            if type(v) is bytes:
                acc.chunks.append(v)
            else:
                acc.add(v)
        acc.rows += rows  # the prediction series counts rows by batch size
        for attr, raw in zip(fattrs, fvalues, strict=True):
            if not attr.use:
                continue
            acc = group.get(attr.name)
            if acc is None:
                acc = group[attr.name] = SpanAcc()
            if raw is not None:  # a double's 8 bytes: the common case, inline
                acc.chunks.append(raw)
            else:
                acc.add(attr.value)
