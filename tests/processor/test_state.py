"""Aggregator: window roll-up, merging, bucket-layout changes, caps, retention, serialisation."""

from __future__ import annotations

import numpy as np
import pytest

from otelml import semconv
from otelml.processor.state.aggregator import (
    PREDICTION_FEATURE,
    Aggregator,
    FeatureWindow,
    Limits,
    SeriesKey,
    Update,
    align,
)
from otelml.stats.categorical import CategoryCounts
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram

KEY = SeriesKey("fraud", "1", "production", "amount", "")


def fixed(values: list[float], edges: tuple[float, ...] = (0.0, 1.0, 2.0)) -> FeatureWindow:
    h = FixedHistogram(edges)
    h.update_many(values)
    return FeatureWindow(numeric=h, rows=len(values))


def cats(**counts: int) -> FeatureWindow:
    c = CategoryCounts(cap=100)
    c.update_counts(counts)
    return FeatureWindow(categories=c, rows=sum(counts.values()))


def test_align() -> None:
    assert align(119.9, 60) == 60
    assert align(120, 60) == 120
    assert align(-1, 60) == -60


def test_window_rolls_resolution_windows_up_over_start_le_t_lt_end() -> None:
    agg = Aggregator(60, 10**9, clock=lambda: 1_000.0)
    agg.apply([Update(KEY, 60, fixed([0.5])), Update(KEY, 119, fixed([1.5]))])
    agg.apply([Update(KEY, 120, fixed([2.5, 3.0])), Update(KEY, 180, fixed([0.1]))])
    assert [ws for ws, _ in agg.history(KEY)] == [60, 120, 180]  # 119 aligned into 60
    w = agg.window(start=60, end=180)[KEY]
    np.testing.assert_array_equal(w.numeric.counts, [0, 1, 1, 2])
    assert w.rows == 4
    assert agg.window(start=0, end=60) == {}
    total = agg.totals()[KEY]
    assert total.rows == 5
    np.testing.assert_array_equal(total.numeric.counts, [0, 2, 1, 2])


def test_window_filters() -> None:
    agg = Aggregator(60)
    other = SeriesKey("fraud", "2", "production", "amount", "")
    agg.apply([Update(KEY, 0, fixed([1.0])), Update(other, 0, fixed([1.0]))])
    assert set(agg.window(version="2")) == {other}
    assert set(agg.window(lambda k: k.version == "1")) == {KEY}
    assert set(agg.window(model="nope")) == set()
    assert agg.models() == [("fraud", "1", "production"), ("fraud", "2", "production")]


def test_merge_keeps_other_bucket_layouts_apart() -> None:
    a = fixed([0.5, 1.5])
    b = fixed([0.5], edges=(0.0, 10.0))
    e = ExponentialHistogram()
    e.update_many([3.0, 4.0])
    merged = a.merge(b).merge(FeatureWindow(numeric=e)).merge(fixed([1.5]))
    parts = list(merged.numeric_parts())
    assert len(parts) == 3
    assert isinstance(parts[0], FixedHistogram)
    np.testing.assert_array_equal(parts[0].counts, [0, 1, 2, 0])
    assert sum(p.count for p in parts) == 6
    # Inputs never change.
    np.testing.assert_array_equal(a.numeric.counts, [0, 1, 1, 0])
    back = FeatureWindow.from_dict(merged.to_dict())
    assert [p.count for p in back.numeric_parts()] == [3, 1, 2]


def test_feature_window_round_trip_and_counts() -> None:
    w = fixed([0.5]).merge(cats(US=2, FR=1))
    w = w.merge(FeatureWindow(missing=3, invalid={"nan": 2}, rows=5))
    back = FeatureWindow.from_dict(w.to_dict())
    assert back.categories.counts == {"US": 2, "FR": 1}
    assert (back.missing, back.invalid, back.rows) == (3, {"nan": 2}, 9)
    assert back.numeric == w.numeric
    assert FeatureWindow().is_empty


def test_caps_relabel_features_and_segments_and_drop_models() -> None:
    overflow: dict[str, int] = {}

    def hook(limit: str, n: int) -> None:
        overflow[limit] = overflow.get(limit, 0) + n

    agg = Aggregator(
        60,
        limits=Limits(max_models=1, max_features_per_model=2, max_segments_per_model=1),
        on_overflow=hook,
    )
    m = ("m", "1", "production")
    ups = [Update(SeriesKey(*m, f"f{i}", ""), 0, fixed([1.0])) for i in range(4)]
    ups.append(Update(SeriesKey(*m, PREDICTION_FEATURE, ""), 0, fixed([1.0])))
    ups += [Update(SeriesKey(*m, "f0", f"s={i}"), 0, fixed([1.0])) for i in range(3)]
    ups.append(Update(SeriesKey("other", "1", "production", "f0", ""), 0, fixed([1.0])))
    agg.apply(ups)
    keys = agg.keys()
    features = {k.feature for k in keys}
    assert features == {"f0", "f1", semconv.OVERFLOW_VALUE, PREDICTION_FEATURE}
    segments = {k.segment for k in keys}
    assert segments == {"", "s=0", semconv.OVERFLOW_VALUE}
    assert {k.model for k in keys} == {"m"}
    assert overflow == {"features": 2, "segments": 2, "models": 1}
    # Every value is still counted somewhere (except the dropped model's).
    assert sum(w.rows for w in agg.totals().values()) == 8

    # Memory does not grow with more distinct names.
    def names(prefix: str) -> list[Update]:
        return [
            Update(SeriesKey("m", "1", "production", f"{prefix}{i}", f"s={i}"), 0, fixed([1.0]))
            for i in range(100)
        ]

    agg.apply(names("g"))  # adds (__overflow__, s=0) and (__overflow__, __overflow__)
    cells = agg.window_count()
    agg.apply(names("h"))
    assert agg.window_count() == cells


def test_prune_drops_old_windows_and_updates_totals() -> None:
    now = [10_000.0]
    agg = Aggregator(60, retention_s=600, clock=lambda: now[0])
    agg.apply([Update(KEY, 9_000, fixed([0.5])), Update(KEY, 9_960, fixed([1.5]))])
    assert agg.prune() == 1
    assert [ws for ws, _ in agg.history(KEY)] == [9_960]
    assert agg.totals()[KEY].rows == 1
    now[0] = 20_000.0
    agg.prune()
    assert agg.keys() == []
    assert agg.totals() == {}


def test_dirty_cells_for_compaction() -> None:
    agg = Aggregator(60)
    agg.apply([Update(KEY, 0, fixed([1.0])), Update(KEY, 60, fixed([1.0]))])
    assert set(agg.take_dirty()) == {(KEY, 0), (KEY, 60)}
    assert agg.take_dirty() == {}
    with pytest.raises(ValueError, match="resolution_s"):
        Aggregator(0)
