"""The fast many-window merge equals folding ``FeatureWindow.merge`` window by window."""

from __future__ import annotations

import numpy as np
import pytest

from otelml.processor.state.aggregator import Aggregator, FeatureWindow, SeriesKey, Update
from otelml.processor.state.window import merge_windows
from otelml.stats.categorical import CategoryCounts
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram

EDGES_A = np.array([-1.0, 0.0, 1.0])
EDGES_B = np.array([-2.0, -0.5, 0.5, 2.0])
EDGES_A_NEGZERO = np.array([-1.0, -0.0, 1.0])  # equal to EDGES_A for merge, not byte-equal


def _fold(windows: list[FeatureWindow]) -> FeatureWindow:
    acc = windows[0]
    for w in windows[1:]:
        acc = acc.merge(w)
    return acc


def _numeric(rng: np.random.Generator, layout: str) -> FixedHistogram | ExponentialHistogram:
    x = rng.normal(rng.uniform(-1, 1), 1.0, int(rng.integers(0, 50)))
    if rng.uniform() < 0.2:
        x = np.append(x, [np.nan, np.inf, -np.inf][: int(rng.integers(1, 4))])
    if layout == "exp":
        e = ExponentialHistogram(max_size=int(rng.choice([8, 160])))
        e.update_many(x * 10.0 ** rng.integers(-3, 4))
        return e
    edges = {"a": EDGES_A, "b": EDGES_B, "a0": EDGES_A_NEGZERO}[layout]
    h = FixedHistogram(edges)
    h.update_many(x)
    return h


def _window(rng: np.random.Generator, layouts: list[str], cap: int) -> FeatureWindow:
    parts = [_numeric(rng, lay) for lay in rng.permutation(layouts)[: int(rng.integers(0, 3))]]
    cats = None
    if rng.uniform() < 0.7:
        cats = CategoryCounts(cap=cap)
        vocab = [f"c{i}" for i in range(int(rng.integers(1, 12)))]
        cats.update_many([*rng.choice(vocab, int(rng.integers(0, 30))).tolist(), None])
    invalid = {k: int(rng.integers(1, 5)) for k in ("nan", "inf") if rng.uniform() < 0.5}
    return FeatureWindow(
        numeric=parts[0] if parts else None,
        categories=cats,
        missing=int(rng.integers(0, 5)),
        invalid=invalid,
        rows=int(rng.integers(0, 100)),
        numeric_extra=tuple(parts[1:]),
    )


@pytest.mark.parametrize(
    ("layouts", "caps"),
    [
        (["a"], [100]),  # the usual case: one layout
        (["a", "b"], [100]),  # a baseline change inside the range
        (["a", "exp"], [100]),  # explicit and exponential input
        (["a", "b", "exp", "a0"], [5, 8, 100]),  # everything, category caps overflowing
    ],
)
def test_fast_merge_equals_fold(layouts: list[str], caps: list[int]) -> None:
    rng = np.random.default_rng(len(layouts) * 100 + len(caps))
    for _ in range(60):
        n = int(rng.integers(1, 12))
        windows = [_window(rng, layouts, int(rng.choice(caps))) for _ in range(n)]
        fast, slow = merge_windows(windows), _fold(windows)
        assert fast == slow
        assert fast.to_dict() == slow.to_dict()  # also the order of the extra layouts


def test_single_window_and_empty() -> None:
    w = FeatureWindow(rows=3)
    assert merge_windows([w]) is w
    with pytest.raises(ValueError, match="windows"):
        merge_windows([])


def test_inputs_unchanged() -> None:
    rng = np.random.default_rng(7)
    windows = [_window(rng, ["a", "b"], 100) for _ in range(6)]
    before = [w.to_dict() for w in windows]
    merge_windows(windows)
    assert [w.to_dict() for w in windows] == before


def test_aggregator_window_equals_fold() -> None:
    rng = np.random.default_rng(3)
    agg = Aggregator(resolution_s=60, clock=lambda: 6000.0)
    key = SeriesKey("m", "1", "prod", "f")
    windows = [_window(rng, ["a", "exp"], 100) for _ in range(8)]
    agg.apply([Update(key, 60 * i, w) for i, w in enumerate(windows)])
    assert agg.window()[key] == _fold(windows)
    assert agg.window(start=120, end=300)[key] == _fold(windows[2:5])
