"""The numpy-free min/max of sketch merges equal numpy's np.fmin / np.fmax bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from otelml.stats._sketch import fmax, fmin

# Signed zeros, NaN and infinities are where a hand-written min/max goes wrong.
_floats = st.one_of(
    st.sampled_from([0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1.0, -1.0]),
    st.floats(allow_nan=True, allow_infinity=True),
)


@given(x=_floats, y=_floats)
def test_fmin_fmax_equal_numpy_bit_for_bit(x: float, y: float) -> None:
    assert repr(fmin(x, y)) == repr(float(np.fmin(x, y)))
    assert repr(fmax(x, y)) == repr(float(np.fmax(x, y)))
