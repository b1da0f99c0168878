"""ExponentialHistogram: exact OTel index mapping, downscaling, OTel SDK agreement, projection."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otelml.stats import exponential
from otelml.stats._exp_index import BitIndexer, index_range, map_to_index_scalar
from otelml.stats.exponential import ExponentialHistogram, lower_boundary, map_to_index
from otelml.stats.histogram import FixedHistogram

from .strategies import wide_batches

POW2_EXPONENTS = np.arange(-1022, 1024)


@pytest.mark.parametrize("scale", [-10, -4, -1, 0, 1, 3, 8, 20])
def test_powers_of_two_sit_at_the_top_of_their_bucket(scale: int) -> None:
    # 2**k is the upper (inclusive) bound of bucket (k << scale) - 1 at scale >= 0,
    # and shifting that index gives the answer at negative scales.
    idx = map_to_index(2.0**POW2_EXPONENTS, scale)
    expected = ((POW2_EXPONENTS << max(scale, 0)) - 1) >> max(-scale, 0)
    assert idx.tolist() == expected.tolist()


@pytest.mark.parametrize("scale", [1, 4, 11, 20])
def test_index_is_consistent_with_bucket_boundaries(scale: int) -> None:
    rng = np.random.default_rng(scale)
    v = np.exp(rng.uniform(-700, 700, 20_000))
    idx = map_to_index(v, scale)
    assert np.all(lower_boundary(idx, scale) < v)
    assert np.all(v <= lower_boundary(idx + 1, scale))
    # Values right at and beside computed boundaries land on the correct side.
    b = lower_boundary(idx[:2000], scale)
    assert np.array_equal(map_to_index(b, scale), idx[:2000] - 1)
    assert np.array_equal(map_to_index(np.nextafter(b, np.inf), scale), idx[:2000])


def test_index_matches_log_formula_away_from_boundaries() -> None:
    rng = np.random.default_rng(0)
    v = np.exp(rng.uniform(-50, 50, 20_000))
    for scale in (1, 6, 20):
        exact = np.log2(v) * 2.0**scale
        far = np.abs(exact - np.round(exact)) > 1e-6
        ref = np.ceil(exact[far]) - 1
        assert np.array_equal(map_to_index(v[far], scale), ref.astype(np.int64))


@pytest.mark.parametrize("scale", [-3, 0, 2, 20])
def test_downscaling_by_shift_equals_direct_mapping(scale: int) -> None:
    v = np.exp(np.random.default_rng(1).uniform(-300, 300, 10_000))
    for k in (1, 2, 5):
        assert np.array_equal(map_to_index(v, scale) >> k, map_to_index(v, scale - k))


def test_subnormals_share_the_smallest_normal_bucket_and_huge_values_work() -> None:
    tiny = np.array([5e-324, 1e-310, np.finfo(float).smallest_normal])
    for scale in (-2, 0, 3, 20):
        idx = map_to_index(tiny, scale)
        assert len(set(idx.tolist())) == 1
    h = ExponentialHistogram()
    h.update_many([5e-324, 1e-310, 1e300, -1e300, np.finfo(float).max])
    assert h.count == 5
    assert h.max == np.finfo(float).max
    assert h.scale >= -10
    assert h.positive.counts.sum() == 4
    assert h.negative.counts.sum() == 1
    lo = lower_boundary(h.positive.offset, h.scale)
    assert lo < 5e-324 or lo <= np.finfo(float).smallest_normal


def test_zero_and_negative_values() -> None:
    h = ExponentialHistogram()
    h.update_many([0.0, -0.0, -1.0, -2.0, -3.0, 1.0])
    assert h.zero_count == 2
    assert h.negative.counts.sum() == 3
    assert h.positive.counts.sum() == 1
    assert (h.min, h.max, h.sum) == (-3.0, 1.0, -5.0)
    # -1 and -2 are upper bounds (by magnitude) of consecutive octaves at scale 20.
    assert map_to_index(np.array([1.0, 2.0, 3.0]), h.scale).tolist()[0] == h.negative.offset


def test_zero_threshold() -> None:
    h = ExponentialHistogram(zero_threshold=0.1)
    h.update_many([0.05, -0.1, 0.1000001, 3.0])
    assert h.zero_count == 2
    assert h.count == 4
    with pytest.raises(ValueError, match="zero_threshold"):
        h.merge(ExponentialHistogram())


def test_empty_constant_and_all_nan() -> None:
    h = ExponentialHistogram()
    assert (h.count, h.scale, h.zero_count) == (0, 20, 0)
    h.update_many([math.nan] * 3 + [math.inf, -math.inf])
    assert (h.count, h.nan_count, h.posinf_count, h.neginf_count) == (0, 3, 1, 1)
    assert math.isnan(h.min)
    h.update_many(np.full(100, 7.5))
    assert h.scale == 20
    assert h.positive.counts.tolist() == [100]
    assert lower_boundary(h.positive.offset, 20) < 7.5 <= lower_boundary(h.positive.offset + 1, 20)


@settings(max_examples=40, deadline=None)
@given(xs=wide_batches, max_size=st.integers(2, 40))
def test_buckets_fit_max_size_and_are_the_finest_that_fit(xs: list[float], max_size: int) -> None:
    h = ExponentialHistogram(max_size=max_size)
    h.update_many(xs)
    x = np.array(xs, dtype=float)
    for sign, b in ((1, h.positive), (-1, h.negative)):
        v = sign * x[np.isfinite(x) & (sign * x > 0)]
        assert b.counts.size <= max_size
        assert b.counts.sum() == v.size
        if v.size:
            assert b.counts[0] > 0
            assert b.counts[-1] > 0
            # The same values at scale + 1 would need more than max_size buckets (or the
            # scale is already the maximum): no needless loss of resolution.
            if h.scale < 20:
                pos = map_to_index(np.abs(x[np.isfinite(x) & (x > 0)]), h.scale + 1)
                neg = map_to_index(np.abs(x[np.isfinite(x) & (x < 0)]), h.scale + 1)
                widths = [r.max() - r.min() + 1 for r in (pos, neg) if r.size]
                assert max(widths) > max_size
            # Each value's own index at the histogram's scale is inside the range.
            idx = map_to_index(v, h.scale)
            assert b.offset <= idx.min()
            assert idx.max() < b.offset + b.counts.size


def test_merge_downscales_to_the_common_scale() -> None:
    a, b = ExponentialHistogram(), ExponentialHistogram()
    a.update_many([1.5, 1.5000001])  # close enough to stay at scale 20
    b.update_many([1e-6, 1e6])  # needs a coarse scale
    m = a + b
    assert m.scale == b.scale < a.scale
    direct = ExponentialHistogram()
    direct.update_many([1.5, 1.5000001, 1e-6, 1e6])
    assert m == direct
    assert a.scale == 20  # inputs untouched


def test_from_otel_downscales_to_fit_and_trims() -> None:
    h = ExponentialHistogram.from_otel(
        3, 1, -2, [0, 1, 2, 0], 5, [4], sum=1.0, min=-3.0, max=2.0, max_size=160
    )
    assert (h.scale, h.positive.offset, h.positive.counts.tolist()) == (3, -1, [1, 2])
    assert h.count == 8
    small = ExponentialHistogram.from_otel(3, 0, 0, [1] * 10, max_size=4)
    assert small.scale == 1
    assert small.positive.counts.tolist() == [4, 4, 2]
    with pytest.raises(ValueError, match="scale"):
        ExponentialHistogram.from_otel(21, 0, 0, [])
    with pytest.raises(ValueError, match="positive_counts"):
        ExponentialHistogram.from_otel(0, 0, 0, [-1])


def test_agrees_with_the_otel_sdk_exponential_aggregation() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View

    rng = np.random.default_rng(3)
    # OTel histogram instruments take non-negative values only; negatives are tested above.
    values = np.concatenate([rng.lognormal(0, 3, 3000), np.zeros(7), [1.0, 2.0, 4.0, 0.25]])
    rng.shuffle(values)
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader],
        views=[View(instrument_name="v", aggregation=ExponentialBucketHistogramAggregation())],
    )
    try:
        instrument = provider.get_meter("test").create_histogram("v")
        for v in values.tolist():
            instrument.record(v)
        metrics = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
        dp = metrics[0].data.data_points[0]
    finally:
        provider.shutdown()
    sdk = ExponentialHistogram.from_otel(
        dp.scale,
        dp.zero_count,
        dp.positive.offset,
        dp.positive.bucket_counts,
        dp.negative.offset,
        dp.negative.bucket_counts,
        sum=dp.sum,
        min=dp.min,
        max=dp.max,
    )
    ours = ExponentialHistogram()
    ours.update_many(values)
    assert sdk.scale == ours.scale < 20  # the data made both downscale
    assert sdk.zero_count == ours.zero_count == 7
    assert sdk.positive.offset == ours.positive.offset
    assert sdk.positive.counts.tolist() == ours.positive.counts.tolist()
    counts = list(dp.positive.bucket_counts)
    nz = np.flatnonzero(counts)
    assert dp.positive.offset + nz[0] == ours.positive.offset
    assert counts[nz[0] : nz[-1] + 1] == ours.positive.counts.tolist()
    assert (sdk.min, sdk.max) == (ours.min, ours.max)
    assert sdk.sum == pytest.approx(ours.sum, rel=1e-12)
    # What the SDK exported merges with ours.
    both = sdk + ours
    assert both.count == 2 * values.size


def test_project_and_error_bound_against_true_counts() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.lognormal(1, 2, 20_000), -rng.lognormal(0, 1, 5000), np.zeros(50)])
    for max_size in (8, 40, 160):
        h = ExponentialHistogram(max_size=max_size)
        h.update_many(x)
        for e in (
            np.quantile(x, np.linspace(0.05, 0.95, 10)),
            np.array([-1.0, 0.0, 1.0, 2.0, 4.0, 8.0]),  # powers of two: bucket bounds at scale<=0
            np.array([0.0]),
        ):
            true = FixedHistogram(e)
            true.update_many(x)
            proj = h.project(e)
            bound = h.projection_error_bound(e)
            diff = np.abs(proj.counts - true.counts)
            assert proj.count == true.count
            assert diff.sum() <= 2 * bound
            assert diff.max() <= bound
            assert (proj.min, proj.max) == (true.min, true.max)
    coarse = ExponentialHistogram(max_size=4)
    coarse.update_many(x)
    assert coarse.projection_error_bound(np.quantile(x, [0.25, 0.5, 0.75])) > 0


def test_projection_is_exact_when_edges_are_bucket_bounds() -> None:
    h = ExponentialHistogram(max_size=400)
    x = np.exp(np.random.default_rng(2).uniform(-5, 5, 5000))
    h.update_many(x)
    e = lower_boundary(np.arange(h.positive.offset, h.positive.offset + 50, 7), h.scale)
    assert h.projection_error_bound(e) == 0
    true = FixedHistogram(e)
    true.update_many(x)
    assert h.project(e) == FixedHistogram.from_counts(
        e, true.counts, sum=h.sum, min=h.min, max=h.max
    )


def test_huge_counts_do_not_overflow() -> None:
    big = 10**12
    h = ExponentialHistogram.from_otel(0, big, 0, [big, big, big], sum=1.0, min=0.0, max=8.0)
    total = h
    for _ in range(999):
        total = total + h
    assert total.count == 1000 * 4 * big
    down = ExponentialHistogram.from_otel(0, 0, 0, [big] * 8, max_size=2)
    assert down.positive.counts.tolist() == [4 * big, 4 * big]
    assert ExponentialHistogram.from_dict(total.to_dict()) == total


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_size": 1}, "max_size"),
        ({"max_scale": 21}, "max_scale"),
        ({"zero_threshold": -1.0}, "zero_threshold"),
    ],
)
def test_rejects_bad_parameters(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ExponentialHistogram(**kwargs)  # type: ignore[arg-type]


def test_rejects_strings() -> None:
    with pytest.raises(TypeError, match="expected numbers"):
        ExponentialHistogram().update_many(["1"])
    with pytest.raises(TypeError, match="expected a number"):
        ExponentialHistogram().update("1")


# ---------------------------------------------------------------- fast path: indices from bits


def _positive_doubles(rng: np.random.Generator, scale: int) -> np.ndarray:
    """Random positive finite doubles, their bucket boundaries and both neighbours of each."""
    if scale <= 4:  # any double: the indexer's table spans all octaves and stays small
        v = rng.integers(1, 0x7FF0000000000000, 20_000, dtype=np.int64).view(np.float64)
        extremes = [5e-324, 1e-310, np.finfo(float).smallest_normal, np.finfo(float).max]
        v = np.concatenate([v, extremes, 2.0 ** rng.integers(-1074, 1024, 200)])
    else:  # the few hundred buckets a batch spans after downscaling to fit max_size
        octaves = 300 / 2**scale
        v = np.exp(rng.uniform(-700, 700)) * 2.0 ** rng.uniform(0, octaves, 20_000)
    b = lower_boundary(map_to_index(v[:3000], scale), scale)
    b = b[(b > 0) & np.isfinite(b)]
    v = np.concatenate([v, b, np.nextafter(b, 0.0), np.nextafter(b, np.inf)])
    return v[v > 0]


@pytest.mark.parametrize("scale", [-10, -3, -1, 0, 1, 2, 4, 6, 11, 16, 20])
def test_bit_pattern_index_equals_reference_index(scale: int) -> None:
    rng = np.random.default_rng(100 + scale)
    v = _positive_doubles(rng, scale)
    ref = map_to_index(v, scale)
    lo, hi = float(v.min()), float(v.max())
    assert index_range(lo, hi, scale) == (int(ref.min()), int(ref.max()))
    for sign, negative in ((1.0, False), (-1.0, True)):
        indexer = BitIndexer(scale, lo, hi, negative=negative)
        assert indexer.indices(sign * v).tolist() == ref.tolist()
        assert indexer.offset == ref.min()
        counts = indexer.counts(sign * v)  # > one chunk: exercises the chunk loop
        assert counts.tolist() == np.bincount(ref - ref.min()).tolist()


@pytest.mark.parametrize("scale", [-2, 0, 3, 20])
def test_index_range_of_single_values(scale: int) -> None:
    v = _positive_doubles(np.random.default_rng(scale + 50), scale)[::40]
    ref = map_to_index(v, scale)
    assert [index_range(float(x), float(x), scale)[0] for x in v] == ref.tolist()


def _batch(rng: np.random.Generator) -> np.ndarray:
    parts = [
        rng.lognormal(0, 2, 40_000),
        -rng.lognormal(3, 1, 30_000),
        [0.0, -0.0, 5e-324, -1e-310, 1e300, -1e299, 1.0, -2.0],
    ]
    x = np.concatenate(parts)
    rng.shuffle(x)
    return x


@pytest.mark.parametrize("max_size", [2, 20, 160, 4000])
@pytest.mark.parametrize("sign", ["mixed", "positive", "negative"])
def test_large_batches_equal_the_reference_path(
    monkeypatch: pytest.MonkeyPatch, max_size: int, sign: str
) -> None:
    rng = np.random.default_rng(max_size)
    x = _batch(rng)
    x = {"mixed": x, "positive": np.abs(x), "negative": -np.abs(x)}[sign]
    narrow = 1.0 + rng.uniform(0, 1e-4, 50_000)  # stays at a fine scale
    results = []
    for small in (0, 10**9):  # 0: every batch takes the bit-pattern path
        monkeypatch.setattr(exponential, "_SMALL_BATCH", small)
        h = ExponentialHistogram(max_size=max_size)
        h.update_many(narrow)
        h.update_many(x)
        results.append(h)
    fast, ref = results
    assert fast == ref
    assert fast.count == x.size + narrow.size


@pytest.mark.parametrize("scale", [-10, -3, 0, 1, 5, 12, 20])
def test_scalar_index_equals_map_to_index(scale: int) -> None:
    rng = np.random.default_rng(100 + scale)
    v = np.concatenate(
        [np.exp(rng.uniform(-740, 709, 3000)), 2.0**POW2_EXPONENTS, [5e-324, 1e-310, 1e-300]]
    )
    b = lower_boundary(map_to_index(v[:1000], scale), scale)
    b = b[(b > 0) & np.isfinite(b)]
    # Boundaries and their neighbours are where log2 alone would misplace a value.
    v = np.concatenate([v, b, np.nextafter(b, np.inf), np.nextafter(b, 0.0)])
    v = v[(v > 0) & np.isfinite(v)]
    assert map_to_index_scalar(v.tolist(), scale) == map_to_index(v, scale).tolist()


@pytest.mark.parametrize("max_size", [2, 20, 160])
def test_small_batches_equal_the_array_path(monkeypatch: pytest.MonkeyPatch, max_size: int) -> None:
    rng = np.random.default_rng(max_size)
    batches = [
        np.array([1.0]),
        rng.lognormal(0, 1, 16),
        -rng.lognormal(2, 3, 64),
        np.concatenate([rng.normal(0, 1, 40), [0.0, -0.0, 5e-324, 2.0, -0.5, np.nan, np.inf]]),
        1.0 + rng.uniform(0, 1e-5, 30),
        rng.lognormal(0, 4, 300),
    ]
    results = []
    for scalar, small in ((10**9, 10**9), (0, 10**9), (0, 0)):  # scalar, map_to_index, bits
        monkeypatch.setattr(exponential, "_SCALAR_BATCH", scalar)
        monkeypatch.setattr(exponential, "_SMALL_BATCH", small)
        h = ExponentialHistogram(max_size=max_size, zero_threshold=1e-3)
        for x in batches:
            h.update_many(x)
        results.append(h)
    assert results[0] == results[1] == results[2]
    assert results[0].count == sum(int(np.isfinite(x).sum()) for x in batches)


# ---------------------------------------------------------------- mixed signs: one joint pass


@pytest.mark.parametrize("scale", [-10, -1, 0, 1, 4, 11, 20])
def test_signed_counts_equal_reference_counts(scale: int) -> None:
    rng = np.random.default_rng(200 + scale)
    v = _positive_doubles(rng, scale)
    v = v[v >= np.finfo(float).smallest_normal]
    signs = rng.choice([-1.0, 1.0], v.size)
    x = np.concatenate([signs * v, [0.0, -0.0, 0.0]])
    indexer = BitIndexer(scale, float(v.min()), float(v.max()))
    pos, neg = indexer.signed_counts(x)
    for counts, sign in ((pos, 1.0), (neg, -1.0)):
        ref = map_to_index(v[signs == sign], scale) - indexer.offset
        assert counts.tolist() == np.bincount(ref, minlength=indexer.size).tolist()
    assert int(pos.sum() + neg.sum()) == v.size  # the zeros are in neither


def _mixed_batch(rng: np.random.Generator, spread: str, subnormals: bool) -> np.ndarray:
    """Both signs of random values, bucket boundaries, their neighbours and powers of two."""
    if spread == "wide":
        # Powers of two up to 2**1000 only: larger ones would overflow the (plain) sum.
        mags = np.concatenate([rng.lognormal(0, 30, 30_000), 2.0 ** POW2_EXPONENTS[:-23], [1e300]])
        scale = 0
    elif spread == "narrow":  # four octaves: the batch keeps a fine scale
        mags = np.concatenate([2.0 ** rng.uniform(-2, 2, 30_000), 2.0 ** np.arange(-2, 3)])
        scale = 5
    else:  # "far": positives near 1e200, negatives near 1e-200
        mags = np.concatenate(
            [1e200 * rng.uniform(1, 2, 15_000), 1e-200 * rng.uniform(1, 2, 15_000)]
        )
        scale = 8
    b = lower_boundary(map_to_index(mags[:2000], scale), scale)
    b = b[(b > 0) & np.isfinite(b)]
    mags = np.concatenate([mags, b, np.nextafter(b, 0.0), np.nextafter(b, np.inf)])
    mags = mags[(mags > 0) & np.isfinite(mags)]
    if spread == "far":
        signed = np.where(mags > 1.0, mags, -mags)
    else:
        signed = np.concatenate([mags, -mags, rng.choice([-1.0, 1.0], mags.size) * mags])
    extra = [0.0, -0.0, 0.0, np.nan, np.inf, -np.inf, -np.inf]
    if subnormals:
        extra += [5e-324, -5e-324, 1e-310, -2e-315]
    x = np.concatenate([signed, extra])
    rng.shuffle(x)
    return x


@pytest.mark.parametrize("max_size", [2, 160, 4000])
@pytest.mark.parametrize(
    ("spread", "subnormals"), [("wide", False), ("wide", True), ("narrow", False), ("far", False)]
)
def test_mixed_sign_batches_equal_the_reference_path(
    monkeypatch: pytest.MonkeyPatch, max_size: int, spread: str, subnormals: bool
) -> None:
    rng = np.random.default_rng(max_size + len(spread))
    x = _mixed_batch(rng, spread, subnormals)
    joint_calls = []
    signed_counts = BitIndexer.signed_counts

    def spy(self: BitIndexer, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        joint_calls.append(values.size)
        return signed_counts(self, values)

    monkeypatch.setattr(BitIndexer, "signed_counts", spy)
    results = []
    for small in (0, 10**9):  # 0: bit patterns (joint pass when it applies); else map_to_index
        monkeypatch.setattr(exponential, "_SMALL_BATCH", small)
        h = ExponentialHistogram(max_size=max_size)
        h.update_many(x)
        results.append(h)
    fast, ref = results
    assert fast == ref
    # The joint pass is taken unless subnormals need clamping or the signs lie far apart.
    far_apart = spread == "far" and max_size > 2  # at max_size 2, scale 0: 1330 buckets
    assert len(joint_calls) == (0 if subnormals or far_apart else 1)
    # And against map_to_index of the magnitudes at the final scale, independently of both.
    finite = x[np.isfinite(x)]
    assert fast.zero_count == int(np.count_nonzero(finite == 0.0))
    for b, side in ((fast.positive, finite[finite > 0]), (fast.negative, -finite[finite < 0])):
        idx = map_to_index(side, fast.scale)
        assert b.offset == idx.min()
        assert b.counts.tolist() == np.bincount(idx - idx.min()).tolist()
    assert (fast.nan_count, fast.posinf_count, fast.neginf_count) == (1, 1, 2)
