"""Cumulative → delta conversion: differences, resets, start-time changes, duplicates, expiry."""

from __future__ import annotations

import numpy as np
import pytest

from otelml.processor.state.temporality import (
    ExpoPoint,
    HistPoint,
    StreamsFull,
    TemporalityTracker,
    subtract,
    value_from_json,
    value_to_json,
)

CREATED = 1_000


def hist(counts: list[int], s: float, bounds: tuple[float, ...] = (0.0, 1.0)) -> HistPoint:
    return HistPoint(bounds, np.array(counts, dtype=np.int64), s)


def expo(scale: int, offset: int, counts: list[int], zero: int = 0, s: float = 0.0) -> ExpoPoint:
    e = np.zeros(0, dtype=np.int64)
    return ExpoPoint(scale, zero, offset, np.array(counts, dtype=np.int64), 0, e, s)


def test_sum_deltas_and_count_decrease_is_reset() -> None:
    t = TemporalityTracker(CREATED)
    assert t.delta("s", 2_000, 10, 5) == 5  # stream started after we did: taken whole
    assert t.delta("s", 2_000, 20, 12) == 7
    assert t.delta("s", 2_000, 30, 12) is None  # nothing new
    assert t.delta("s", 2_000, 40, 3) == 3  # decrease: a reset, the new value is all new
    assert t.delta("s", 2_000, 50, 4) == 1


def test_first_point_of_a_stream_older_than_the_state_is_only_remembered() -> None:
    t = TemporalityTracker(CREATED)
    assert t.delta("s", 500, 10, 100) is None
    assert t.delta("s", 500, 20, 130) == 30
    assert t.delta("z", 0, 10, 7) is None  # unknown start time: baseline only


def test_duplicates_and_out_of_order_points_add_nothing() -> None:
    t = TemporalityTracker(CREATED)
    t.delta("s", 2_000, 10, 5)
    assert t.delta("s", 2_000, 10, 5) is None  # a retried request
    assert t.delta("s", 2_000, 5, 3) is None  # older than the last one
    assert t.delta("s", 2_000, 20, 9) == 4


def test_histogram_difference_and_bounds_change() -> None:
    d = subtract(hist([1, 2, 3], 10.0), hist([1, 1, 0], 4.0))
    assert isinstance(d, HistPoint)
    np.testing.assert_array_equal(d.counts, [0, 1, 3])
    assert d.sum == pytest.approx(6.0)
    assert subtract(hist([1, 2, 3], 1.0), hist([2, 0, 0], 1.0)) is None  # a bucket decreased
    assert subtract(hist([1, 2, 3], 1.0, (0.0, 2.0)), hist([1, 1, 1], 1.0)) is None


def test_exponential_difference_across_a_downscale() -> None:
    # Previous point at scale 1, buckets 4..7; the stream then downscaled to scale 0, where
    # index i at scale 1 maps to i >> 1: 4,5 -> 2 and 6,7 -> 3.
    prev = expo(1, 4, [1, 1, 1, 1], zero=1)
    cur = expo(0, 2, [3, 5, 1], zero=2)
    d = subtract(cur, prev)
    assert isinstance(d, ExpoPoint)
    assert d.scale == 0
    assert d.zero_count == 1
    full = np.zeros(10, dtype=np.int64)
    full[d.pos_offset : d.pos_offset + d.pos_counts.size] = d.pos_counts
    np.testing.assert_array_equal(full[2:5], [1, 3, 1])
    assert d.count == cur.count - prev.count
    assert subtract(expo(2, 0, [1]), expo(1, 0, [1])) is None  # scale went up: reset


def test_new_start_time_is_a_new_stream_taken_whole() -> None:
    # Stream ids include the start time (see ingest), so a restarted app is a new stream.
    t = TemporalityTracker(CREATED)
    t.delta("s@2000", 2_000, 10, 50)
    assert t.delta("s@3000", 3_000, 20, 4) == 4


def test_stream_cap_and_expiry() -> None:
    t = TemporalityTracker(CREATED, max_streams=2, ttl_s=1)
    t.delta("a", 2_000, 10, 1)
    t.delta("b", 2_000, 2_000_000_000, 1)
    with pytest.raises(StreamsFull):
        t.delta("c", 2_000, 10, 1)
    assert t.expire(now_ns=1_500_000_000) == 1  # "a" is older than 1 s
    assert len(t) == 1
    changed, expired = t.take_changes()
    assert set(changed) == {"b"}
    assert expired == {"a"}


@pytest.mark.parametrize("value", [7, hist([1, 2, 3], 2.5), expo(3, -2, [1, 0, 4], zero=2, s=-1)])
def test_value_json_round_trip(value: int | HistPoint | ExpoPoint) -> None:
    back = value_from_json(value_to_json(value))
    assert value_to_json(back) == value_to_json(value)
