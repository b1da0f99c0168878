"""OTLP spans and log records → updates and events (pure functions).

Apps that emit only spans (other languages, or metrics turned off) give the same distributions
from their ``predict`` spans: every ``ml.features.<name>`` attribute is one observed value
(numbers into a base-2 exponential histogram, strings and booleans into category counts, NaN and
±inf counted as invalid), ``ml.prediction.value`` / ``ml.prediction.label`` feed the prediction
series, and ``ml.batch.size`` (default 1) its row count. Array-valued attributes (sampled rows
of a batch) give one value per element. A span with ``ml.telemetry.aggregated=true`` is skipped:
its process also exports the metrics, which already counted it.

A span with ``ml.segments.<column>`` attributes counts in its segment and in the all-rows
series (segment ``""``).

Log records ``ml.prediction`` / ``ml.actual`` are returned as :class:`LogEvent` for the
ground-truth join; nothing of them is stored yet.
"""

from __future__ import annotations

import math
from typing import Any

from otelml import semconv
from otelml.processor.ingest import IngestOptions, IngestResult, LogEvent, check_time
from otelml.processor.otlp import any_value
from otelml.processor.points import PointError
from otelml.processor.state import PREDICTION_FEATURE, FeatureWindow, SeriesKey, Update

_FEATURE_PREFIX = semconv.FEATURE_PREFIX
_SEGMENT_PREFIX = semconv.SEGMENT_PREFIX
_EVENTS = frozenset({semconv.PREDICTION_EVENT, semconv.ACTUAL_EVENT})


class _SpanAcc:
    __slots__ = ("categories", "invalid", "numbers", "rows")

    def __init__(self) -> None:
        self.numbers: list[float] = []
        self.categories: dict[str, int] = {}
        self.invalid: dict[str, int] = {}
        self.rows = 0


_SPAN_KEYS = frozenset(
    {
        semconv.MODEL_NAME,
        semconv.MODEL_VERSION,
        semconv.ENVIRONMENT,
        semconv.AGGREGATED,
        semconv.BATCH_SIZE,
        semconv.PREDICTION_VALUE,
        semconv.PREDICTION_LABEL,
    }
)
_FLEN = len(_FEATURE_PREFIX)
_SLEN = len(_SEGMENT_PREFIX)

# (model, version, environment, segment, window start) -> feature -> accumulator
_Groups = dict[tuple[str, str, str, str, int], dict[str, _SpanAcc]]


def _str(v: Any, key: str, limit: int) -> str:
    if not isinstance(v, str):
        raise PointError("invalid_point", f"{key}: expected a string")
    if len(v) > limit:
        raise PointError("too_long", f"{key}: longer than {limit} characters")
    return v


def _value(v: Any, limit: int) -> Any:
    """Return a feature value (float, str, list, or None), checking string lengths."""
    kind = v.WhichOneof("value")
    if kind == "double_value":
        return v.double_value
    if kind == "string_value":
        s = v.string_value
        if len(s) > limit:
            raise PointError("too_long", f"value longer than {limit} characters")
        return s
    if kind == "int_value":
        return float(v.int_value)
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind == "array_value":
        out = [_value(x, limit) for x in v.array_value.values]
        return [x for x in out if x is not None and not isinstance(x, list)]
    return None


def _add_value(acc: _SpanAcc, v: Any) -> None:
    if isinstance(v, float):
        if math.isfinite(v):
            acc.numbers.append(v)
        else:
            issue = "nan" if math.isnan(v) else "inf"
            acc.invalid[issue] = acc.invalid.get(issue, 0) + 1
    elif isinstance(v, str):
        acc.categories[v] = acc.categories.get(v, 0) + 1
    elif isinstance(v, list):
        for x in v:
            _add_value(acc, x)
        return
    else:
        return  # None (empty or unsupported AnyValue): nothing observed
    acc.rows += 1


def ingest_spans(request: Any, opts: IngestOptions, now: float) -> IngestResult:
    """Return the updates that an ExportTraceServiceRequest's predict spans carry."""
    res = IngestResult("traces", now)
    limit = opts.max_attribute_length
    groups: _Groups = {}
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            res.items += len(ss.spans)
            for span in ss.spans:
                fixed: dict[str, Any] = {}
                features: list[tuple[str, Any]] = []
                segments: list[tuple[str, Any]] = []
                for kv in span.attributes:
                    k = kv.key
                    if k.startswith(_FEATURE_PREFIX):
                        features.append((k[_FLEN:], kv.value))
                    elif k in _SPAN_KEYS:
                        fixed[k] = kv.value
                    elif k.startswith(_SEGMENT_PREFIX):
                        segments.append((k[_SLEN:], kv.value))
                if semconv.MODEL_NAME not in fixed:
                    continue
                res.ours += 1
                agg = fixed.get(semconv.AGGREGATED)
                if agg is not None and agg.bool_value:
                    continue
                try:
                    _span(span, fixed, features, segments, opts, now, limit, groups)
                except PointError as exc:
                    res.reject(exc.reason, f"span {span.name[:64]!r}: {exc}")
    res.updates = _finish(groups, opts.max_categories)
    return res


def _span(
    span: Any,
    fixed: dict[str, Any],
    raw_features: list[tuple[str, Any]],
    raw_segments: list[tuple[str, Any]],
    opts: IngestOptions,
    now: float,
    limit: int,
    groups: _Groups,
) -> None:
    model = _str(any_value(fixed[semconv.MODEL_NAME]), semconv.MODEL_NAME, limit)
    version = env = ""
    if semconv.MODEL_VERSION in fixed:
        version = _str(any_value(fixed[semconv.MODEL_VERSION]), semconv.MODEL_VERSION, limit)
    if semconv.ENVIRONMENT in fixed:
        env = _str(any_value(fixed[semconv.ENVIRONMENT]), semconv.ENVIRONMENT, limit)
    env = env or semconv.DEFAULT_ENVIRONMENT
    ws = check_time(span.end_time_unix_nano or span.start_time_unix_nano, now, opts)
    # Parse and check every value before touching an accumulator: a refused span changes
    # nothing.
    features = []
    for name, raw in raw_features[: opts.max_span_features]:
        if len(name) > limit:
            raise PointError("too_long", f"feature name longer than {limit} characters")
        if name and name != PREDICTION_FEATURE:
            features.append((name, _value(raw, limit)))
    segment_keys = [""]
    if raw_segments:
        seg = semconv.segment_key({c: str(any_value(v)) for c, v in raw_segments})
        if len(seg) > limit:
            raise PointError("too_long", f"{semconv.SEGMENT}: longer than {limit} characters")
        segment_keys.append(seg)
    batch = fixed.get(semconv.BATCH_SIZE)
    rows = int(batch.int_value) if batch is not None and batch.int_value > 0 else 1
    outputs = [
        _value(fixed[k], limit)
        for k in (semconv.PREDICTION_VALUE, semconv.PREDICTION_LABEL)
        if k in fixed
    ]
    for segment in segment_keys:
        group = groups.get((model, version, env, segment, ws))
        if group is None:
            group = groups[(model, version, env, segment, ws)] = {}
        acc = group.get(PREDICTION_FEATURE)
        if acc is None:
            acc = group[PREDICTION_FEATURE] = _SpanAcc()
        before = acc.rows
        for v in outputs:
            _add_value(acc, v)
        acc.rows = before + rows  # the prediction series counts rows by batch size
        for name, v in features:
            acc = group.get(name)
            if acc is None:
                acc = group[name] = _SpanAcc()
            if type(v) is float and v - v == 0.0:  # finite float: the common case, inline
                acc.numbers.append(v)
                acc.rows += 1
            else:
                _add_value(acc, v)


def _finish(groups: _Groups, max_categories: int) -> list[Update]:
    out = []
    for (model, version, env, segment, ws), group in groups.items():
        for feature, acc in group.items():
            key = SeriesKey(model, version, env, feature, segment)
            out.append(Update(key, ws, _window(acc, max_categories)))
    return out


def _window(acc: _SpanAcc, max_categories: int) -> FeatureWindow:
    from otelml.stats.categorical import CategoryCounts
    from otelml.stats.exponential import ExponentialHistogram

    fw = FeatureWindow(invalid=acc.invalid, rows=acc.rows)
    if acc.numbers:
        h = ExponentialHistogram()
        h.update_many(acc.numbers)
        fw.numeric = h
    if acc.categories:
        cc = CategoryCounts(cap=max_categories)
        cc.update_counts(acc.categories)
        fw.categories = cc
    return fw


def ingest_logs(request: Any, opts: IngestOptions, now: float) -> IngestResult:
    """Return the ``ml.prediction`` / ``ml.actual`` events of an ExportLogsServiceRequest."""
    res = IngestResult("logs", now)
    for rl in request.resource_logs:
        for sl in rl.scope_logs:
            res.items += len(sl.log_records)
            for rec in sl.log_records:
                name = rec.event_name
                if not name:
                    for kv in rec.attributes:
                        if kv.key == "event.name":
                            name = kv.value.string_value
                            break
                if name not in _EVENTS:
                    continue
                res.ours += 1
                attrs = {kv.key: any_value(kv.value) for kv in rec.attributes}
                t = rec.time_unix_nano or rec.observed_time_unix_nano or int(now * 1e9)
                res.events.append(LogEvent(name, attrs, t))
    return res
