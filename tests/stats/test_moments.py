"""Moments against numpy, including data far from zero."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otelml.stats.moments import Moments

from .strategies import moderate_floats


def of(xs: np.ndarray) -> Moments:
    m = Moments()
    m.update_many(xs)
    return m


@settings(max_examples=50, deadline=None)
@given(xs=st.lists(moderate_floats, min_size=2, max_size=60))
def test_matches_numpy(xs: list[float]) -> None:
    x = np.array(xs)
    m = of(x)
    scale = max(1.0, float(np.abs(x).max()))
    assert m.count == x.size
    assert m.mean == pytest.approx(x.mean(), rel=1e-12, abs=1e-12 * scale)
    assert m.variance == pytest.approx(np.var(x), rel=1e-9, abs=1e-9 * scale**2)
    assert m.sample_variance == pytest.approx(np.var(x, ddof=1), rel=1e-9, abs=1e-9 * scale**2)
    assert m.std == pytest.approx(np.std(x), rel=1e-9, abs=1e-6 * scale)


def test_large_offset_is_stable_in_every_path() -> None:
    # Naive sum-of-squares loses all digits here: 1e18 vs a variance of ~1e-2.
    rng = np.random.default_rng(0)
    x = 1e9 + rng.normal(0, 0.1, 100_000)
    ref = np.var(x)
    parts = np.array_split(x, 37)
    merged = Moments()
    for p in parts:
        merged = merged + of(p)
    looped = Moments()
    for v in x[:5000].tolist():
        looped.update(v)
    assert of(x).variance == pytest.approx(ref, rel=1e-6)
    assert merged.variance == pytest.approx(ref, rel=1e-6)
    assert looped.variance == pytest.approx(np.var(x[:5000]), rel=1e-6)
    assert merged.mean == pytest.approx(x.mean(), rel=1e-15)


def test_empty_single_constant_and_non_finite() -> None:
    m = Moments()
    assert math.isnan(m.mean)
    assert math.isnan(m.variance)
    m.update(3.0)
    assert (m.mean, m.variance) == (3.0, 0.0)
    assert math.isnan(m.sample_variance)
    m.update_many([3.0] * 10 + [math.nan, math.inf, -math.inf])
    assert (m.count, m.mean, m.variance) == (11, 3.0, 0.0)
    m.update_many([math.nan])
    assert m.count == 11


def test_rejects_strings_and_bad_dicts() -> None:
    with pytest.raises(TypeError):
        Moments().update_many(["a"])
    d = Moments().to_dict()
    with pytest.raises(ValueError, match="m2"):
        Moments.from_dict({**d, "m2": -1.0})
