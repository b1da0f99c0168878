"""FixedHistogram: bin convention, special values, input types, fast paths, from_counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otelml.stats import histogram
from otelml.stats.histogram import FixedHistogram

from .strategies import edges, moderate_floats


def reference_counts(e: np.ndarray, x: np.ndarray) -> np.ndarray:
    finite = x[np.isfinite(x)]
    return np.bincount(np.searchsorted(e, finite, side="left"), minlength=e.size + 1)


def test_upper_inclusive_bins_like_otel() -> None:
    h = FixedHistogram([0.0, 1.0, 2.0])
    h.update_many([-5.0, 0.0, 0.5, 1.0, 1.0000001, 2.0, 2.5, 1e300])
    # (-inf,0] (0,1] (1,2] (2,inf)
    assert h.counts.tolist() == [2, 2, 2, 2]
    assert h.count == 8
    assert h.min == -5.0
    assert h.max == 1e300


def test_special_values_are_counted_apart() -> None:
    h = FixedHistogram([0.0])
    h.update_many([math.nan, math.inf, -math.inf, -math.inf, 3.0, math.nan])
    assert (h.nan_count, h.posinf_count, h.neginf_count) == (2, 1, 2)
    assert h.counts.tolist() == [0, 1]
    assert (h.count, h.sum, h.min, h.max) == (1, 3.0, 3.0, 3.0)


def test_all_nan_and_empty() -> None:
    h = FixedHistogram([1.0, 2.0])
    assert h.count == 0
    assert math.isnan(h.min)
    assert math.isnan(h.max)
    h.update_many(np.full(5, np.nan))
    assert h.nan_count == 5
    assert h.count == 0
    assert math.isnan(h.min)
    assert h.sum == 0.0


def test_constant_input() -> None:
    h = FixedHistogram([1.0, 2.0])
    h.update_many(np.full(1000, 2.0))
    assert h.counts.tolist() == [0, 1000, 0]
    assert (h.min, h.max, h.sum) == (2.0, 2.0, 2000.0)


def test_single_edge_and_no_edge() -> None:
    one = FixedHistogram([0.0])
    one.update_many([-1.0, 0.0, 1.0])
    assert one.counts.tolist() == [2, 1]
    none = FixedHistogram([])
    none.update_many([-1.0, 0.0, 1.0, math.nan])
    assert none.counts.tolist() == [3]
    none.update(5)
    assert none.counts.tolist() == [4]


@pytest.mark.parametrize(
    "xs",
    [
        [True, False, True],
        np.array([1, 2, 3], dtype=np.int8),
        np.array([1, 2, 3], dtype=np.uint64),
        np.array([0.5, 1.5], dtype=np.float32),
        np.array([[1.0, 2.0], [3.0, 4.0]]),
        (1, 2.5, 3),
    ],
)
def test_accepts_numeric_inputs(xs: object) -> None:
    h = FixedHistogram([1.0, 2.0])
    h.update_many(xs)  # type: ignore[arg-type]
    flat = np.asarray(xs, dtype=np.float64).ravel()
    assert h.counts.tolist() == reference_counts(h.edges, flat).tolist()
    assert h.sum == pytest.approx(flat.sum())


@pytest.mark.parametrize("xs", [["a", "b"], np.array(["1.0"]), [1.0, None], [1 + 2j]])
def test_rejects_non_numbers_with_type_error(xs: object) -> None:
    h = FixedHistogram([1.0])
    with pytest.raises(TypeError, match="expected numbers"):
        h.update_many(xs)  # type: ignore[arg-type]
    assert h == FixedHistogram([1.0])


@pytest.mark.parametrize("x", ["1.0", b"1", None, 1j])
def test_update_rejects_non_numbers(x: object) -> None:
    with pytest.raises(TypeError, match="expected a"):
        FixedHistogram([1.0]).update(x)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("e", "msg"),
    [([1.0, 1.0], "increasing"), ([2.0, 1.0], "increasing"), ([0.0, np.inf], "finite")],
)
def test_rejects_bad_edges(e: list[float], msg: str) -> None:
    with pytest.raises(ValueError, match=f"edges: .*{msg}"):
        FixedHistogram(e)


def test_merge_requires_identical_edges() -> None:
    with pytest.raises(ValueError, match="edges"):
        FixedHistogram([1.0]).merge(FixedHistogram([2.0]))


@pytest.mark.parametrize("k", [1, 5, 12, 13, 100, 1000])
def test_all_code_paths_agree_with_searchsorted(k: int) -> None:
    # The comparison path (few edges) and the lookup-table path (many) must equal the
    # np.searchsorted definition exactly, including values equal to an edge and its neighbours.
    rng = np.random.default_rng(k)
    x = rng.standard_t(3, size=20_000)
    e = np.unique(np.quantile(x, np.linspace(0.001, 0.999, k)))
    x = np.concatenate([x, e, np.nextafter(e, -np.inf), np.nextafter(e, np.inf), [-1e300, 1e300]])
    h = FixedHistogram(e)
    h.update_many(x)
    assert h.counts.tolist() == reference_counts(e, x).tolist()


def test_lookup_table_with_clustered_and_offset_edges() -> None:
    # Edges 1e-9 apart near 1e9 and a far outlier: cells cannot separate them, so the
    # code must fall back (or refine) and still be exact.
    e = np.concatenate([1e9 + np.arange(20) * 1e-6, [1e9 + 1.0, 1e12]])
    big = np.logspace(300, 308, 8)
    wide = np.concatenate([-big[::-1], [0.0], big])  # hi - lo overflows to inf
    hw = FixedHistogram(wide)
    hw.update_many(np.concatenate([wide, [0.0, -1e308, 1e308]]))
    assert (
        hw.counts.tolist()
        == reference_counts(wide, np.concatenate([wide, [0.0, -1e308, 1e308]])).tolist()
    )
    x = np.concatenate([e, np.nextafter(e, np.inf), np.linspace(1e9 - 1, 1e9 + 2, 5000)])
    h = FixedHistogram(e)
    h.update_many(x)
    assert h.counts.tolist() == reference_counts(e, x).tolist()


@settings(max_examples=60, deadline=None)
@given(e=edges(max_edges=40), xs=st.lists(moderate_floats, max_size=60))
def test_matches_searchsorted_for_any_edges(e: np.ndarray, xs: list[float]) -> None:
    x = np.array(xs + e.tolist())
    h = FixedHistogram(e)
    h.update_many(x)
    assert h.counts.tolist() == reference_counts(e, x).tolist()


def test_from_counts_and_huge_counts_do_not_overflow() -> None:
    big = 10**12
    h = FixedHistogram.from_counts([0.0, 1.0], [big, big, big], sum=1.5e12, min=-3.0, max=9.0)
    total = h
    for _ in range(1000):
        total = total + h
    assert total.counts.dtype == np.int64
    assert total.counts.tolist() == [1001 * big] * 3
    assert total.count == 3003 * big
    assert FixedHistogram.from_dict(total.to_dict()) == total


@pytest.mark.parametrize(
    ("counts", "msg"), [([1, 2], "expected 3"), ([1, -1, 0], "non-negative"), ([0.5, 1, 1], "int")]
)
def test_from_counts_validates(counts: list[float], msg: str) -> None:
    with pytest.raises(ValueError, match=f"counts: .*{msg}"):
        FixedHistogram.from_counts([0.0, 1.0], counts)


def test_scalar_update_matches_batch_on_edges() -> None:
    e = [0.0, 1.0, 2.0]
    xs = [0.0, 1.0, 2.0, -0.0, np.nextafter(1.0, 2.0), True, np.float32(1.5), np.int64(7)]
    a, b = FixedHistogram(e), FixedHistogram(e)
    for x in xs:
        a.update(x)
    b.update_many(np.array(xs, dtype=np.float64))
    assert a == b


@settings(max_examples=40, deadline=None)
@given(e=edges(max_edges=40), xs=st.lists(moderate_floats, max_size=60))
def test_fast_paths_match_searchsorted_for_any_edges(e: np.ndarray, xs: list[float]) -> None:
    # Repeat the drawn values past the small-batch cut-off so the comparison (few edges) or
    # lookup (many) path runs, not the plain searchsorted that small batches take.
    x = np.tile(np.array(xs + e.tolist() + [0.0]), histogram._SMALL_BATCH // (len(xs) + 1) + 1)
    h = FixedHistogram(e)
    h.update_many(x)
    assert x.size >= histogram._SMALL_BATCH
    assert h.counts.tolist() == reference_counts(e, x).tolist()


@pytest.mark.parametrize("k", [3, 20, 21, 100])
def test_chunked_paths_across_chunk_boundaries(k: int) -> None:
    rng = np.random.default_rng(k)
    x = rng.standard_normal(3 * histogram._CHUNK + 17) * 10.0
    e = np.sort(rng.choice(x, k, replace=False))  # every edge is also a value
    x = np.concatenate([x, [-1e308, 1e308, -0.0]])
    h = FixedHistogram(e)
    h.update_many(x)
    assert h.counts.tolist() == reference_counts(e, x).tolist()
    assert (h.min, h.max) == (-1e308, 1e308)


def test_lookup_table_fallback_on_a_large_batch() -> None:
    # hi - lo overflows, so no table can be built: the large batch goes to searchsorted.
    big = np.logspace(300, 308, 15)
    wide = np.concatenate([-big[::-1], [0.0], big])
    rng = np.random.default_rng(0)
    x = np.concatenate([wide, np.nextafter(wide, np.inf), rng.standard_normal(5000) * 1e304])
    h = FixedHistogram(wide)
    h.update_many(x)
    assert h.counts.tolist() == reference_counts(wide, x).tolist()
