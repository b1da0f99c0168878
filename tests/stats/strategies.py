"""Hypothesis strategies shared by the sketch tests."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

# Finite values of moderate size, so that sums of a few dozen values stay exact to ~1e-8
# absolute and the approximate comparisons in the conformance suite have a real margin.
moderate_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)

# Values with NaN and infinities mixed in, and a few exact hits on typical bin edges.
special_floats = st.one_of(
    moderate_floats,
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, 2.0, 0.5, -1.0]),
)

numeric_batches = st.lists(special_floats, max_size=40)

# Positive and negative magnitudes over many octaves, to make exponential histograms downscale.
wide_floats = st.one_of(
    st.builds(
        lambda sign, e, m: sign * m * 2.0**e,
        st.sampled_from([1.0, -1.0]),
        st.integers(min_value=-40, max_value=19),
        st.floats(min_value=1.0, max_value=2.0, exclude_max=True),
    ),
    st.sampled_from([0.0, math.nan, math.inf, -math.inf, 1.0, 4.0, -0.25]),
)

wide_batches = st.lists(wide_floats, max_size=40)

# Categories from a small alphabet (so that counts repeat), with None as missing.
categories = st.one_of(st.sampled_from(list("abcdefghij")), st.none(), st.integers(0, 3))

category_batches = st.lists(categories, max_size=40)


@st.composite
def edges(draw: st.DrawFn, max_edges: int = 12) -> np.ndarray:
    """Strictly increasing finite edges (possibly none), including round values."""
    raw = draw(
        st.lists(
            st.one_of(moderate_floats, st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0])),
            max_size=max_edges,
            unique=True,
        )
    )
    return np.array(sorted(raw), dtype=np.float64)
