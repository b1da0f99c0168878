"""Column plumbing for the baseline builder: kind inference and missing/NaN splitting.

A column is a 1-D numpy array. Missing values are ``None`` in object arrays or masked entries of
a ``numpy.ma.MaskedArray`` (what :func:`otelml._tabular.to_columns` makes of pandas/Arrow/polars
nulls). A NaN in a float column is a NaN, not a missing value (it is counted under ``nan_rate``),
which matches what the instrumentation sees at the call site; in a categorical column NaN counts
as missing, because that is how pandas marks missing strings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from otelml.stats.baseline import Kind

_NUMERIC_KINDS = "iuf"


def infer_kind(col: np.ndarray) -> Kind:
    """Return ``"numeric"`` for integer and float dtypes, ``"categorical"`` for the rest."""
    return "numeric" if np.ma.getdata(col).dtype.kind in _NUMERIC_KINDS else "categorical"


def _object_missing(values: np.ndarray) -> np.ndarray:
    try:
        # Vectorised: None compares equal to None; NaN is the only value unequal to itself.
        is_none = np.asarray(values == None, dtype=bool)  # noqa: E711
        is_nan = np.asarray(values != values, dtype=bool)
        out: np.ndarray = is_none | is_nan
        return out
    except (TypeError, ValueError):
        # Objects with odd comparisons (e.g. pandas.NA) take the slow path.
        return np.fromiter((_is_missing(v) for v in values), dtype=bool, count=len(values))


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(v != v)
    except (TypeError, ValueError):
        return True  # pandas.NA and friends: "unknown" is missing


def split_numeric(col: np.ndarray, name: str) -> tuple[np.ndarray, int]:
    """Return ``(present values as float64, number of missing)`` of one chunk of a column."""
    mask = np.ma.getmaskarray(col) if np.ma.isMaskedArray(col) else None
    data = np.ma.getdata(col)
    if data.dtype.kind == "O":
        obj_missing = np.fromiter((v is None for v in data), dtype=bool, count=len(data))
        mask = obj_missing if mask is None else (mask | obj_missing)
    if mask is not None and mask.any():
        data = data[~mask]
        n_missing = int(mask.sum())
    else:
        n_missing = 0
    try:
        values = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"column {name!r} is declared numeric but holds {exc}") from None
    return values, n_missing


def split_categorical(col: np.ndarray) -> tuple[np.ndarray, int]:
    """Return ``(present values as a str array, number of missing)`` of one chunk of a column."""
    mask = np.ma.getmaskarray(col) if np.ma.isMaskedArray(col) else None
    data = np.ma.getdata(col)
    if data.dtype.kind in "Of":
        extra = _object_missing(data) if data.dtype.kind == "O" else np.isnan(data)
        mask = extra if mask is None else (mask | extra)
    if mask is not None and mask.any():
        data = data[~mask]
        n_missing = int(mask.sum())
    else:
        n_missing = 0
    return data.astype(str), n_missing
