"""The fast ingestion paths give what point-by-point processing gives.

Four shortcuts could diverge from the straightforward code, so each is checked against it on
random requests (Hypothesis): explicit histograms read as packed bytes and checked by numpy per
layout (against :func:`hist_value` on the fully decoded point), runs of cumulative histogram
points converted together (against ``TemporalityTracker.delta`` + ``to_updates`` point by
point), span attributes read from cached serialized ``KeyValue`` bytes (against a plain
reimplementation of the span rules on the regular protobuf classes), and the aggregator's
direct merge of two single-histogram windows (against ``FeatureWindow.merge``, bit for bit).
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

from otelml import semconv
from otelml.processor.receive import ingest as ingest_module
from otelml.processor.receive.ingest import ingest_metrics
from otelml.processor.receive.otlp import LazyMetricsRequest, LazyTracesRequest, decode_request
from otelml.processor.receive.points import PointError, hist_value
from otelml.processor.receive.series import IngestOptions, check_time
from otelml.processor.receive.spans import ingest_spans
from otelml.processor.state import aggregator as state_module
from otelml.processor.state.aggregator import PREDICTION_FEATURE, FeatureWindow, SeriesKey, Update
from otelml.processor.state.observations import IngestResult, Observation
from otelml.processor.state.temporality import HistPoint, StreamsFull, TemporalityTracker
from otelml.processor.state.updates import UpdateBuilder, convert, to_updates

from .otlpdata import (
    CUMULATIVE,
    DELTA,
    NS,
    hist_metric,
    kvs,
    metrics_request,
    model_attrs,
    span,
    sum_metric,
    traces_request,
)

NOW = time.time()
T = int(NOW * NS)
OPTS = IngestOptions(max_attribute_length=12, max_span_features=6)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LAYOUTS = [(0.0, 1.0), (-1.0, 0.0, 2.5), (0.0, 1.0, 2.0, 3.0)]


# -- explicit histograms: packed bytes + numpy checks == hist_value point by point ------------


def _per_point_hist(dp: Any) -> HistPoint:
    return hist_value(metrics_pb2.HistogramDataPoint.FromString(dp.SerializeToString()))


def _reference_ingest(request: Any) -> IngestResult:
    """Ingest with explicit histograms going through the generic per-point loop."""

    def per_point(res: IngestResult, name: str, spec: Any, points: Any, *rest: Any) -> None:
        ingest_module._points(res, name, spec, points, *rest, _per_point_hist)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(ingest_module, "histograms", per_point)
        return ingest_metrics(request, OPTS, NOW)


def _same_observations(a: Sequence[Observation], b: Sequence[Observation]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x[:4] == y[:4]
        assert x[5:] == y[5:]
        assert type(x.value) is type(y.value)
        if isinstance(x.value, HistPoint):
            assert isinstance(y.value, HistPoint)
            assert x.value.bounds == y.value.bounds
            np.testing.assert_array_equal(x.value.counts, y.value.counts)
            assert x.value.count == y.value.count
            for f in ("sum", "min", "max"):
                u, v = getattr(x.value, f), getattr(y.value, f)
                assert u == v or (math.isnan(u) and math.isnan(v)), f
        else:
            assert x.value == y.value


_big = st.sampled_from([0, 1, 5, 2**62, 2**63, 2**64 - 1])
_hist_point = st.tuples(
    st.sampled_from(["a", "b", "c", "way-too-long-feature"]),
    st.sampled_from([*range(len(LAYOUTS)), -1]),  # -1: bounds that are not increasing
    st.lists(st.one_of(st.integers(0, 50), _big), min_size=1, max_size=5),
    st.sampled_from([0, 0, 0, 1, -1, "wrap"]),  # count: true, off by one, or sum mod 2**64
    st.sampled_from([0.0, 1.5, -2.0, math.nan, math.inf]),  # sum
    st.sampled_from([None, 0.0, -1.0, math.inf]),  # min
    st.sampled_from([0, 1, -5]),  # time offset in minutes; -5 days is beyond retention below
)


def _hist_request(points: list[tuple[Any, ...]], temporality: int) -> Any:
    dps = []
    for feature, layout, counts, skew, total, lo, minutes in points:
        bounds = list(LAYOUTS[layout]) if layout >= 0 else [1.0, 1.0]
        counts = (counts + [0] * 5)[: len(bounds) + 1] if len(counts) > 1 else counts
        dp = metrics_pb2.HistogramDataPoint(
            attributes=kvs(model_attrs(feature=feature)),
            start_time_unix_nano=T - 10 * NS,
            time_unix_nano=T + minutes * 60 * NS * (1 if minutes >= 0 else 1440),
            count=sum(counts) % 2**64
            if skew == "wrap"
            else max(0, min(2**64 - 1, sum(counts) + skew)),
            sum=total,
            explicit_bounds=bounds,
            bucket_counts=counts,
        )
        if lo is not None:
            dp.min = lo
        dps.append(dp)
    metric = metrics_pb2.Metric(
        name=semconv.FEATURE_VALUES.name,
        histogram=metrics_pb2.Histogram(data_points=dps, aggregation_temporality=temporality),
    )
    return metrics_request(metric)


@SETTINGS
@given(points=st.lists(_hist_point, min_size=1, max_size=25), cumulative=st.booleans())
@example(  # uint64 sum wraps onto count while a bucket exceeds it; then a good point
    points=[
        ("a", 0, [2**64 - 1, 1, 0], "wrap", 0.0, None, 0),
        ("b", 0, [1, 2, 3], 0, 1.5, None, 0),
    ],
    cumulative=False,
)
@example(  # several reasons on one point: the first check made point by point wins
    points=[("a", 0, [1, 2, 3], 1, math.nan, math.inf, -5), ("a", -1, [1, 2, 3], 1, 0.0, None, 0)],
    cumulative=True,
)
def test_histogram_batch_equals_hist_value_per_point(
    points: list[tuple[Any, ...]], cumulative: bool
) -> None:
    request = _hist_request(points, CUMULATIVE if cumulative else DELTA)
    fast = ingest_metrics(request, OPTS, NOW)
    slow = _reference_ingest(request)
    _same_observations(fast.observations, slow.observations)
    assert (fast.rejected, fast.reasons, fast.errors) == (slow.rejected, slow.reasons, slow.errors)


def test_unpacked_histogram_arrays_are_decoded_like_packed_ones() -> None:
    # proto3 parsers must accept unpacked repeated scalars; the lazy class keeps them as
    # unknown fields and the point is decoded fully instead.
    attrs = b"".join(
        b"\x4a" + bytes([len(kv.SerializeToString())]) + kv.SerializeToString()
        for kv in kvs(model_attrs(feature="a"))
    )
    bounds = b"".join(b"\x39" + struct.pack("<d", x) for x in (0.0, 1.0))
    counts = b"".join(b"\x31" + struct.pack("<Q", x) for x in (1, 2, 3))
    point = (
        attrs + b"\x19" + struct.pack("<Q", T) + b"\x21" + struct.pack("<Q", 6) + bounds + counts
    )
    hist = b"\x0a" + _varint(len(point)) + point + b"\x10\x01"  # data_points, DELTA
    metric = metrics_pb2.Metric(name=semconv.FEATURE_VALUES.name).SerializeToString()
    metric += b"\x4a" + _varint(len(hist)) + hist  # Metric.histogram
    parsed = metrics_pb2.Metric.FromString(metric)
    assert list(parsed.histogram.data_points[0].explicit_bounds) == [0.0, 1.0]
    request = metrics_request(parsed)
    res = ingest_metrics(
        decode_request("metrics", request.SerializeToString(), "protobuf"), OPTS, NOW
    )
    assert res.rejected == 0
    (obs,) = res.observations
    assert isinstance(obs.value, HistPoint)
    assert obs.value.bounds == (0.0, 1.0)
    np.testing.assert_array_equal(obs.value.counts, [1, 2, 3])


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


# -- cumulative runs: batched conversion == TemporalityTracker.delta point by point -----------

_cum_point = st.tuples(
    st.integers(0, 15),  # series
    st.integers(0, 3),  # replica (another stream of the same series)
    st.sampled_from([0] * 15 + [1]),  # layout (mostly one, so that runs form)
    st.lists(st.integers(0, 20), min_size=3, max_size=3),  # increment per bucket
    st.sampled_from([1, 1, 1, 0, -1]),  # time step: 0 a retry, -1 out of order
    st.sampled_from([None, None, None, "restart", "shift"]),  # a reset: counts restart, or
    # mass moves between buckets (the total grows, a bucket shrinks)
    st.sampled_from([False, False, False, True]),  # a new start time (restart)
)


def _streams_requests(batches: list[list[tuple[Any, ...]]]) -> list[Any]:
    state: dict[tuple[int, int], list[Any]] = {}
    out = []
    for batch in batches:
        dps: list[Any] = []
        for series, replica, layout, inc, step, reset, restart in batch:
            st_ = state.setdefault((series, replica), [np.zeros(3, dtype=np.int64), T, T - NS])
            if restart:
                st_[2] += NS
            if reset == "restart":
                st_[0] = np.asarray(inc)
            elif reset == "shift":
                st_[0] = np.roll(st_[0], 1) + inc
            else:
                st_[0] = st_[0] + inc
            st_[1] += step * NS
            bounds = [0.0, 1.0] if layout == 0 else [0.0, 2.0]
            counts = st_[0].tolist()
            dps.append(
                (
                    (
                        model_attrs(feature=f"f{series}", replica=str(replica)),
                        bounds,
                        counts,
                        0.5 * sum(counts),
                    ),
                    st_[1],
                    st_[2],
                )
            )
        # One metric per distinct (time, start) so the builders accept them.
        metrics = [
            hist_metric(
                semconv.FEATURE_VALUES.name, [p], temporality=CUMULATIVE, start_ns=start, time_ns=t
            )
            for p, t, start in dps
        ]
        for m, (p, _, _) in zip(metrics, dps, strict=True):
            m.histogram.data_points[0].min = -1.0 - len(p[0])  # cumulative min and max: a
            m.histogram.data_points[0].max = 9.0 + p[3]  # delta's are unknown (NaN)
        out.append(metrics_request(*metrics))
    return out


def _merged_request(request: Any) -> Any:
    """Return the request with all histogram points in one metric (runs form)."""
    merged = metrics_pb2.Metric(name=semconv.FEATURE_VALUES.name)
    merged.histogram.aggregation_temporality = CUMULATIVE
    for m in request.resource_metrics[0].scope_metrics[0].metrics:
        merged.histogram.data_points.extend(m.histogram.data_points)
    return metrics_request(merged)


def _per_point_updates(
    tracker: TemporalityTracker, observations: Sequence[Observation]
) -> tuple[list[Update], int]:
    deltas, overflow = [], 0
    for o in observations:
        value: Any = o.value
        if o.stream is not None:
            try:
                value = tracker.delta(o.stream, o.start_ns, o.time_ns, value)
            except StreamsFull:
                overflow += 1
                continue
            if value is None:
                continue
        deltas.append((o.key, o.window_start, o.kind, o.label, value))
    return to_updates(deltas, 100), overflow


def _same_updates(a: list[Update], b: list[Update]) -> None:
    assert [(u.key, u.window_start) for u in a] == [(u.key, u.window_start) for u in b]
    for x, y in zip(a, b, strict=True):
        assert x.delta.to_dict() == y.delta.to_dict(), x.key


@pytest.mark.slow
@SETTINGS
@given(
    batches=st.lists(
        st.lists(_cum_point, min_size=16, max_size=40, unique_by=lambda p: (p[0], p[1]))
        | st.lists(_cum_point, min_size=16, max_size=24),  # may repeat a stream: per point
        min_size=1,
        max_size=4,
    ),
    max_streams=st.sampled_from([20, 1000]),
)
@example(
    batches=[
        [(s, 0, 0, [5, 0, 1], 1, None, False) for s in range(16)],
        [
            (s, 0, 0, [1, 2, 3], 1, ["shift", None, "restart", None][s % 4], s == 5)
            for s in range(16)
        ],
    ],
    max_streams=1000,
)
def test_batched_cumulative_conversion_equals_per_point(
    batches: list[list[tuple[Any, ...]]], max_streams: int
) -> None:
    created = T - 5 * NS
    fast_tracker = TemporalityTracker(created, max_streams=max_streams)
    slow_tracker = TemporalityTracker(created, max_streams=max_streams)
    for request in _streams_requests(batches):
        obs = ingest_metrics(_merged_request(request), OPTS, NOW).observations
        builder = UpdateBuilder(100)
        fast_overflow = convert(fast_tracker, obs, builder)
        slow, slow_overflow = _per_point_updates(
            slow_tracker, ingest_metrics(_merged_request(request), OPTS, NOW).observations
        )
        _same_updates(builder.finish(), slow)
        assert fast_overflow == slow_overflow
        assert list(fast_tracker._last) == list(slow_tracker._last)  # same LRU order
        for sid, (t, v) in fast_tracker._last.items():
            t2, v2 = slow_tracker._last[sid]
            assert t == t2
            np.testing.assert_array_equal(v.counts, v2.counts)  # type: ignore[union-attr]
        assert fast_tracker.take_changes()[0].keys() == slow_tracker.take_changes()[0].keys()


def test_tracker_keeps_its_own_counts_not_views_of_the_request() -> None:
    req = _streams_requests([[(s, 0, 0, [1, 2, 3], 1, False, False) for s in range(20)]])[0]
    tracker = TemporalityTracker(T - 5 * NS)
    convert(
        tracker, ingest_metrics(_merged_request(req), OPTS, NOW).observations, UpdateBuilder(100)
    )
    for _, v in tracker._last.values():
        assert isinstance(v, HistPoint)
        assert v.counts.base is None


def test_add_rows_equals_add_one_by_one() -> None:
    rng = np.random.default_rng(3)
    keys = [SeriesKey("m", "1", "p", f, "") for f in ("a", "b", PREDICTION_FEATURE)]
    obs, counts, sums, mins, maxs = [], [], [], [], []
    for i in range(60):
        key = keys[i % 3]
        obs.append(Observation(key, 60 * (i % 2), 0, "", None, None, 0, 0))  # type: ignore[arg-type]
        counts.append(rng.integers(0, 9, 3))
        sums.append(float(rng.normal()))
        mins.append(math.nan if i % 4 else float(rng.normal()))
        maxs.append(math.nan if i % 5 else float(rng.normal()))
    fast = UpdateBuilder(100)
    fast.add_rows(obs, (0.0, 1.0), np.asarray(counts), sums, mins, maxs)
    slow = UpdateBuilder(100)
    for o, c, s, lo, hi in zip(obs, counts, sums, mins, maxs, strict=True):
        slow.add(o.key, o.window_start, 0, "", HistPoint((0.0, 1.0), c, s, lo, hi))
    _same_updates(fast.finish(), slow.finish())


# -- spans: cached KeyValue bytes == the span rules on regular protobuf -----------------------


def _observed(v: Any, limit: int, label: bool = False) -> Any:
    kind = v.WhichOneof("value")
    if kind == "double_value":
        d = v.double_value
        if label and math.isfinite(d):  # a label is a category: 1.0 is "1", as 1 and "1"
            return str(int(d)) if d.is_integer() else repr(d)
        return d
    if kind == "string_value":
        if len(v.string_value) > limit:
            raise PointError("too_long", f"value longer than {limit} characters")
        return v.string_value
    if kind == "int_value":
        return str(v.int_value) if label else float(v.int_value)
    if kind == "bool_value":
        return "True" if v.bool_value else "False"
    if kind == "array_value":
        out = [_observed(x, limit, label) for x in v.array_value.values]
        return [x for x in out if x is not None and not isinstance(x, list)]
    return None


def _any(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind is None or kind in ("bytes_value", "kvlist_value"):
        return None
    if kind == "array_value":
        return [_any(x) for x in v.array_value.values]
    return getattr(v, kind)


def _spelled(v: Any) -> str:
    """A segment value as the client spells it: 1 and 1.0 as "1", booleans True / False."""
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return str(int(v))
    return repr(v) if isinstance(v, float) else str(v)


def _text(v: Any, key: str, limit: int) -> str:
    if not isinstance(v, str):
        raise PointError("invalid_point", f"{key}: expected a string")
    if len(v) > limit:
        raise PointError("too_long", f"{key}: longer than {limit} characters")
    return v


class _Ref:
    def __init__(self) -> None:
        self.values: list[float] = []
        self.categories: dict[str, int] = {}
        self.rows = 0

    def add(self, v: Any) -> None:
        if isinstance(v, float):
            self.values.append(v)
        elif isinstance(v, str):
            self.categories[v] = self.categories.get(v, 0) + 1
        elif isinstance(v, list):
            for x in v:
                self.add(x)
            return
        else:
            return
        self.rows += 1


def _reference_spans(request: Any, opts: IngestOptions) -> tuple[dict[Any, _Ref], IngestResult]:
    """The span rules, point by point, on the regular protobuf classes."""
    res = IngestResult("traces", NOW)
    limit = opts.max_attribute_length
    groups: dict[Any, _Ref] = {}
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            res.items += len(ss.spans)
            for sp in ss.spans:
                fixed = {kv.key: kv.value for kv in sp.attributes}
                features = [
                    (kv.key[len(semconv.FEATURE_PREFIX) :], kv.value)
                    for kv in sp.attributes
                    if kv.key.startswith(semconv.FEATURE_PREFIX)
                ]
                segments = [
                    (kv.key[len(semconv.SEGMENT_PREFIX) :], kv.value)
                    for kv in sp.attributes
                    if kv.key.startswith(semconv.SEGMENT_PREFIX)
                ]
                if semconv.MODEL_NAME not in fixed:
                    continue
                res.ours += 1
                if semconv.AGGREGATED in fixed and fixed[semconv.AGGREGATED].bool_value:
                    continue
                try:
                    model = _text(_any(fixed[semconv.MODEL_NAME]), semconv.MODEL_NAME, limit)
                    version = env = ""
                    if semconv.MODEL_VERSION in fixed:
                        version = _text(
                            _any(fixed[semconv.MODEL_VERSION]), semconv.MODEL_VERSION, limit
                        )
                    if semconv.ENVIRONMENT in fixed:
                        env = _text(_any(fixed[semconv.ENVIRONMENT]), semconv.ENVIRONMENT, limit)
                    env = env or semconv.DEFAULT_ENVIRONMENT
                    ws = check_time(sp.end_time_unix_nano or sp.start_time_unix_nano, NOW, opts)
                    feats = []
                    for name, raw in features[: opts.max_span_features]:
                        if len(name) > limit:
                            raise PointError(
                                "too_long", f"feature name longer than {limit} characters"
                            )
                        if name and name != PREDICTION_FEATURE:
                            feats.append((name, _observed(raw, limit)))
                    segs = [""]
                    if segments:
                        seg = semconv.segment_key({c: _spelled(_any(v)) for c, v in segments})
                        if len(seg) > limit:
                            raise PointError(
                                "too_long", f"{semconv.SEGMENT}: longer than {limit} characters"
                            )
                        segs.append(seg)
                    batch = fixed.get(semconv.BATCH_SIZE)
                    rows = int(batch.int_value) if batch is not None and batch.int_value > 0 else 1
                    outputs = [
                        _observed(fixed[k], limit, label=k == semconv.PREDICTION_LABEL)
                        for k in (semconv.PREDICTION_VALUE, semconv.PREDICTION_LABEL)
                        if k in fixed
                    ]
                except PointError as exc:
                    res.reject(exc.reason, f"span {sp.name[:64]!r}: {exc}")
                    continue
                for seg in segs:
                    acc = groups.setdefault(
                        (model, version, env, PREDICTION_FEATURE, seg, ws), _Ref()
                    )
                    before = acc.rows
                    for v in outputs:
                        acc.add(v)
                    acc.rows = before + rows  # the prediction series counts batch rows
                    for name, v in feats:
                        groups.setdefault((model, version, env, name, seg, ws), _Ref()).add(v)
    return groups, res


def _check_update(u: Update, ref: _Ref) -> None:
    fw: FeatureWindow = u.delta
    values = np.asarray(ref.values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    invalid = {"nan": int(np.isnan(values).sum()), "inf": int(np.isinf(values).sum())}
    assert fw.invalid == {k: n for k, n in invalid.items() if n}
    if finite.size:
        assert fw.numeric is not None
        assert fw.numeric.count == finite.size
        assert fw.numeric.sum == float(finite.sum())
    else:
        assert fw.numeric is None
    cats = dict(fw.categories.counts) if fw.categories is not None else {}
    assert cats == ref.categories
    assert fw.rows == ref.rows


_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 5),
    st.sampled_from(["x", "y", "a-string-too-long-for-12"]),
    st.booleans(),
    st.lists(
        st.one_of(st.floats(-3, 3), st.sampled_from(["u", "v"]), st.just(math.nan)), max_size=3
    ),
)
_feature = st.tuples(
    st.sampled_from(
        [f"f{i}" for i in range(8)] + ["", PREDICTION_FEATURE, "a-name-too-long-1"]
    ).map(semconv.feature_attribute),
    _values,
)
_attr = st.one_of(
    _feature,
    _feature,
    _feature,
    _feature,
    st.tuples(
        st.sampled_from([semconv.segment_attribute(c) for c in ("country", "d")]),
        st.sampled_from(["US", "FR", 3, "a-very-long-segment-value"]),
    ),
    st.tuples(st.sampled_from([semconv.PREDICTION_VALUE, semconv.PREDICTION_LABEL]), _values),
    st.tuples(st.just(semconv.BATCH_SIZE), st.sampled_from([0, 3, 2.0])),
    st.tuples(st.just(semconv.MODEL_VERSION), st.sampled_from(["1", "2", 7])),
    st.tuples(st.just(semconv.AGGREGATED), st.sampled_from([False, False, True])),
    st.tuples(st.just("http.route"), st.sampled_from(["/a", "/b"])),
)
_span = st.tuples(
    st.sampled_from(["fraud", "churn", None, 5, "model-name-too-long"]),
    st.lists(_attr, max_size=16),
    st.sampled_from([0, 0, 0, 1, -9000]),  # minutes: -9000 is beyond the retention
)


@SETTINGS
@given(spans=st.lists(_span, min_size=1, max_size=12))
@example(  # more features than max_span_features (6); a too-long value past the cap
    spans=[
        (
            "fraud",
            [(semconv.feature_attribute(f"f{i % 8}"), float(i)) for i in range(6)]
            + [(semconv.feature_attribute("f1"), "a-string-too-long-for-12")],
            0,
        )
    ]
)
def test_span_fast_path_equals_the_span_rules(spans: list[tuple[Any, ...]]) -> None:
    built = []
    for model, attrs, minutes in spans:
        items = list(attrs)
        if model is not None:
            items.insert(len(items) // 2, (semconv.MODEL_NAME, model))
        sp = span({}, end_ns=T + minutes * 60 * NS)
        for k, v in items:  # keep duplicates and order, as a wire request may have them
            sp.attributes.extend(kvs({k: v}))
        built.append(sp)
    request = traces_request(built)
    opts = IngestOptions(max_attribute_length=12, max_span_features=6, retention_s=86400)
    fast = ingest_spans(
        decode_request("traces", request.SerializeToString(), "protobuf"), opts, NOW
    )
    ref, slow = _reference_spans(request, opts)
    assert (fast.items, fast.ours, fast.rejected, fast.reasons, fast.errors) == (
        slow.items,
        slow.ours,
        slow.rejected,
        slow.reasons,
        slow.errors,
    )
    got = {
        (*u.key.model_key, u.key.feature, u.key.segment, u.window_start): u for u in fast.updates
    }
    assert got.keys() == ref.keys()
    for k, u in got.items():
        _check_update(u, ref[k])


def test_non_canonical_double_attribute_is_still_read() -> None:
    # Value field before key: legal protobuf that the byte-prefix cache cannot match.
    key = semconv.feature_attribute("amount").encode()
    value = common_pb2.AnyValue(double_value=2.5).SerializeToString()
    swapped = b"\x12" + bytes([len(value)]) + value + b"\x0a" + bytes([len(key)]) + key
    lazy = LazyTracesRequest.FromString(
        traces_request([span({semconv.MODEL_NAME: "fraud"}, end_ns=T)]).SerializeToString()
    )
    lazy.resource_spans[0].scope_spans[0].spans[0].attributes.append(swapped)
    res = ingest_spans(lazy, OPTS, NOW)
    (u,) = [u for u in res.updates if u.key.feature == "amount"]
    assert u.delta.numeric is not None
    assert u.delta.numeric.sum == 2.5


def test_lazy_requests_round_trip_to_the_same_wire_data() -> None:
    req = metrics_request(
        hist_metric(
            semconv.FEATURE_VALUES.name,
            [(model_attrs(feature="a"), [0.0, 1.0], [1, 2, 3], 4.0)],
            time_ns=T,
        ),
        sum_metric(semconv.FEATURE_MISSING.name, [(model_attrs(feature="a"), 2)], time_ns=T),
    )
    body = req.SerializeToString()
    assert LazyMetricsRequest.FromString(body).SerializeToString() == body
    tr = traces_request([span({semconv.MODEL_NAME: "fraud", "ml.features.x": 1.5})])
    assert LazyTracesRequest.FromString(tr.SerializeToString()).SerializeToString() == (
        tr.SerializeToString()
    )


# -- Aggregator.apply's two-window merge == FeatureWindow.merge -------------------------------

_EDGE_OBJECTS = [np.asarray(e, dtype=np.float64) for e in LAYOUTS] + [
    np.asarray((-0.0, 1.0)),  # equal to LAYOUTS[0] for merge, yet not bit-identical
    np.asarray((0.0, 1.0)),  # equal to LAYOUTS[0]: another object
]
_summary_float = st.sampled_from([math.nan, 0.0, -0.0, 1.5, -2.0, 1e300]) | st.floats(
    allow_nan=True, allow_infinity=False
)


@st.composite
def _window(draw: st.DrawFn) -> FeatureWindow:
    from otelml.stats.categorical import CategoryCounts
    from otelml.stats.exponential import ExponentialHistogram
    from otelml.stats.histogram import FixedHistogram

    def fixed() -> FixedHistogram:
        h = FixedHistogram.__new__(FixedHistogram)
        h.edges = draw(st.sampled_from(_EDGE_OBJECTS))
        # A FixedHistogram from the constructor or copy() is what the writer passes; build
        # one directly so that edges objects are shared as the writer shares them.
        h.counts = np.asarray(
            draw(st.lists(st.integers(0, 2**40), min_size=h.edges.size + 1,
                          max_size=h.edges.size + 1)),
            dtype=np.int64,
        )  # fmt: skip
        h.sum, h.min, h.max = draw(_summary_float), draw(_summary_float), draw(_summary_float)
        h.nan_count, h.posinf_count, h.neginf_count = (draw(st.integers(0, 5)) for _ in "abc")
        h._lookup = None
        return h

    def expo() -> ExponentialHistogram:
        h = ExponentialHistogram()
        h.update_many(np.asarray(draw(st.lists(st.floats(-10, 10), max_size=5)), dtype=float))
        return h

    kind = draw(st.sampled_from(["fixed"] * 6 + ["expo", "none"]))
    numeric = fixed() if kind == "fixed" else expo() if kind == "expo" else None
    # Mostly one histogram per window: the case the fast merge takes.
    extra = tuple(fixed() for _ in range(draw(st.sampled_from([0, 0, 0, 1])))) if numeric else ()
    categories = None
    if draw(st.booleans()):
        categories = CategoryCounts(cap=draw(st.integers(1, 3)))
        categories.update_counts(draw(st.dictionaries(st.sampled_from("abcd"), st.integers(1, 9))))
    return FeatureWindow(
        numeric=numeric,
        categories=categories,
        missing=draw(st.integers(0, 9)),
        invalid=draw(st.dictionaries(st.sampled_from(["nan", "inf"]), st.integers(1, 9))),
        rows=draw(st.integers(0, 99)),
        numeric_extra=extra,
    )


def _same_sketch(x: Any, y: Any) -> None:
    assert type(x) is type(y)
    if x is None:
        return
    if type(x).__name__ != "FixedHistogram":
        assert x == y
        return
    assert x.edges is y.edges  # the merge keeps the first operand's edges object
    assert x.counts.dtype == y.counts.dtype
    assert np.array_equal(x.counts, y.counts)
    for f in ("sum", "min", "max", "nan_count", "posinf_count", "neginf_count"):
        a, b = getattr(x, f), getattr(y, f)
        assert type(a) is type(b), f
        assert repr(a) == repr(b), f  # bits: -0.0 is not 0.0
    assert x._lookup is y._lookup


def _same_window(x: FeatureWindow, y: FeatureWindow) -> None:
    _same_sketch(x.numeric, y.numeric)
    assert len(x.numeric_extra) == len(y.numeric_extra)
    for a, b in zip(x.numeric_extra, y.numeric_extra, strict=True):
        _same_sketch(a, b)
    assert x.categories == y.categories
    assert (x.missing, x.invalid, x.rows) == (y.missing, y.invalid, y.rows)


@settings(SETTINGS, max_examples=200)
@given(a=_window(), b=_window())
def test_window_merge_summary_equals_numpy_fmin_fmax(a: FeatureWindow, b: FeatureWindow) -> None:
    before = (a.to_dict(), b.to_dict())
    merged = a.merge(b)
    assert (a.to_dict(), b.to_dict()) == before  # neither input changes
    ha, hb = a.numeric, b.numeric
    single = not a.numeric_extra and not b.numeric_extra
    if single and type(ha).__name__ == "FixedHistogram" and type(hb).__name__ == "FixedHistogram":
        h = merged.numeric
        if np.array_equal(ha.edges, hb.edges):
            assert h is not None
            assert h.edges is ha.edges
            assert np.array_equal(h.counts, ha.counts + hb.counts)
            # bits, as numpy computes them: -0.0 is not 0.0, NaN sides are ignored
            assert repr(h.min) == repr(float(np.fmin(ha.min, hb.min)))
            assert repr(h.max) == repr(float(np.fmax(ha.max, hb.max)))
            assert repr(h.sum) == repr(ha.sum + hb.sum)


def _fold(requests: list[list[Update]]) -> tuple[dict[Any, FeatureWindow], dict[Any, Any]]:
    """Return (totals, windows) as a plain left fold of FeatureWindow.merge over the updates."""
    totals: dict[Any, FeatureWindow] = {}
    windows: dict[Any, dict[int, FeatureWindow]] = {}
    for request in requests:
        for key, ws, w in request:
            series = windows.setdefault(key, {})
            series[ws] = w if ws not in series else series[ws].merge(w)
            totals[key] = w if key not in totals else totals[key].merge(w)
    return totals, windows


@SETTINGS
@given(
    requests=st.lists(
        st.lists(
            st.tuples(st.sampled_from("xyz"), st.sampled_from(["", "s=1"]),
                      st.sampled_from([0, 60, 120]), _window()),
            max_size=6,
        ),
        min_size=1, max_size=4,
    )
)  # fmt: skip
def test_aggregator_apply_equals_a_fold_of_feature_window_merge(
    requests: list[list[tuple[str, str, int, FeatureWindow]]],
) -> None:
    fast = state_module.Aggregator(60)
    batches = [
        [Update(SeriesKey("m", "1", "p", f, s), ws, w) for f, s, ws, w in request]
        for request in requests
    ]
    for updates in batches:
        fast.apply(updates)
    slow_totals, slow_windows = _fold(batches)
    assert set(fast.keys()) == set(slow_totals)
    fast_totals = fast.totals()
    for key in slow_totals:
        _same_window(fast_totals[key], slow_totals[key])
        hf = fast.history(key)
        assert [ws for ws, _ in hf] == sorted(slow_windows[key])
        for ws, x in hf:
            _same_window(x, slow_windows[key][ws])
