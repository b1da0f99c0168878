"""Turn DataFrame-like objects into a dict of 1-D numpy columns, importing nothing heavy.

Accepted: pandas and polars DataFrames, pyarrow Tables and RecordBatches, mappings of column
name to array-like, numpy structured arrays, and 2-D numpy arrays with ``feature_names``. The
library of an object is recognised by the module of its type, so pandas, polars and pyarrow are
imported only when such an object is actually passed in.

Missing values come out as ``None`` in object columns, and as masked entries of a
``numpy.ma.MaskedArray`` in numeric and boolean columns with nulls (pandas nullable dtypes,
Arrow and polars nulls), so that a null stays distinguishable from a NaN. Columns of Python
numbers with ``None`` become masked float columns; strings and categoricals become object
columns of ``str``.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

ACCEPTED = (
    "pandas.DataFrame, polars.DataFrame, pyarrow.Table/RecordBatch, a mapping of column name to "
    "array, a numpy structured array, or a 2-D numpy array with feature_names"
)


def _library(obj: Any) -> str:
    return type(obj).__module__.split(".", 1)[0]


def _masked(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if not mask.any():
        return values
    return np.ma.MaskedArray(values, mask=mask)


def _from_objects(arr: np.ndarray) -> np.ndarray:
    """Numbers with ``None`` become a masked float array; anything else stays as it is."""
    if arr.dtype.kind != "O" or len(arr) == 0:
        return arr
    is_none = np.fromiter((v is None for v in arr), dtype=bool, count=len(arr))
    present = arr[~is_none]
    if len(present) == 0 or not all(
        isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in present
    ):
        return arr
    values = np.full(len(arr), np.nan)
    values[~is_none] = present.astype(np.float64)
    return _masked(values, is_none)


def _pandas_column(s: Any) -> np.ndarray:
    import pandas as pd

    dtype = s.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iufb":
        return np.asarray(s.to_numpy())
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        # Nullable extension dtypes (Int64, Float64, boolean): NA becomes a masked entry.
        mask = np.asarray(s.isna().to_numpy(), dtype=bool)
        if pd.api.types.is_bool_dtype(dtype):
            target: Any = bool
        elif pd.api.types.is_float_dtype(dtype):
            target = np.float64
        else:
            target = np.int64
        return _masked(np.asarray(s.to_numpy(dtype=target, na_value=target(0))), mask)
    # Strings, categoricals, objects: None for every kind of missing marker.
    values = np.asarray(s.astype(object).to_numpy(dtype=object, na_value=None))
    if isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype)):
        return values
    return _from_objects(values)


def _arrow_column(col: Any) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    t = col.type
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
    if numeric:
        if col.null_count == 0:
            return np.asarray(col.to_numpy(zero_copy_only=False))
        mask = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        filled = pc.fill_null(col, pa.scalar(False if pa.types.is_boolean(t) else 0, type=t))
        return _masked(np.asarray(filled.to_numpy(zero_copy_only=False)), mask)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        # Through a dictionary: one Python str per distinct value, not one per row.
        enc = pc.dictionary_encode(col)
        if isinstance(enc, pa.ChunkedArray):
            enc = enc.combine_chunks() if enc.num_chunks != 1 else enc.chunk(0)
        words = np.asarray(enc.dictionary.to_pylist() or [""], dtype=object)
        mask = np.asarray(enc.indices.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        codes = np.asarray(pc.fill_null(enc.indices, 0).to_numpy(zero_copy_only=False))
        out: np.ndarray = words[codes]
        out[mask] = None
        return out
    return _from_objects(np.asarray(col.to_numpy(zero_copy_only=False), dtype=object))


def _polars_column(s: Any) -> np.ndarray:
    import polars as pl

    dtype = s.dtype
    if dtype in (pl.Categorical, pl.Enum) or isinstance(dtype, (pl.Categorical, pl.Enum)):
        s = s.cast(pl.Utf8)
        dtype = s.dtype
    if dtype.is_numeric() or dtype == pl.Boolean:
        if s.null_count() == 0:
            return np.asarray(s.to_numpy())
        mask = np.asarray(s.is_null().to_numpy(), dtype=bool)
        filled = s.fill_null(False if dtype == pl.Boolean else 0)
        return _masked(np.asarray(filled.to_numpy()), mask)
    values = np.asarray(s.to_numpy(), dtype=object)
    return values if dtype == pl.Utf8 else _from_objects(values)


def _check_names(available: Sequence[str], wanted: Sequence[str] | None) -> list[str]:
    if wanted is None:
        return list(available)
    missing = [n for n in wanted if n not in available]
    if missing:
        raise KeyError(f"columns not found: {missing} (available: {list(available)})")
    return list(wanted)


def to_columns(data: Any, feature_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Return ``{column name: 1-D numpy array}`` for a DataFrame-like ``data``.

    Parameters
    ----------
    data
        See the module docstring for the accepted types.
    feature_names : sequence of str, optional
        Names of a 2-D array's columns (required there); for every other type, the columns to
        keep, in that order (all by default).

    Raises
    ------
    TypeError
        ``data`` is of an unsupported type.
    KeyError
        A requested column does not exist.
    ValueError
        Columns of different lengths, or a 2-D array without matching ``feature_names``.
    """
    lib = _library(data)
    name = type(data).__name__
    cols: dict[str, np.ndarray]
    if lib == "pandas" and name == "DataFrame":
        names = _check_names([str(c) for c in data.columns], feature_names)
        by_str = {str(c): c for c in data.columns}
        cols = {n: _pandas_column(data[by_str[n]]) for n in names}
    elif lib == "polars" and name == "DataFrame":
        names = _check_names(list(data.columns), feature_names)
        cols = {n: _polars_column(data.get_column(n)) for n in names}
    elif lib == "pyarrow" and name in ("Table", "RecordBatch"):
        names = _check_names(list(data.schema.names), feature_names)
        cols = {n: _arrow_column(data.column(n)) for n in names}
    elif isinstance(data, np.ndarray):
        cols = _numpy_columns(data, feature_names)
    elif isinstance(data, Mapping):
        names = _check_names([str(k) for k in data], feature_names)
        by_str = {str(k): k for k in data}
        cols = {n: _from_objects(_as_1d(data[by_str[n]], n)) for n in names}
    else:
        raise TypeError(f"cannot read columns from {type(data).__module__}.{name}; pass {ACCEPTED}")
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns have different lengths: {sorted(lengths)}")
    return cols


def _as_1d(values: Any, name: str) -> np.ndarray:
    lib = _library(values)
    if lib == "pandas":
        return _pandas_column(values)
    if lib == "polars":
        return _polars_column(values)
    if lib == "pyarrow":
        return _arrow_column(values)
    arr: np.ndarray = np.asanyarray(values)
    if arr.ndim != 1:
        raise ValueError(f"column {name!r} must be 1-D, got shape {arr.shape}")
    return arr


def _numpy_columns(data: np.ndarray, feature_names: Sequence[str] | None) -> dict[str, np.ndarray]:
    if data.dtype.names:
        names = _check_names(list(data.dtype.names), feature_names)
        return {n: _from_objects(np.asarray(data[n])) for n in names}
    if data.ndim != 2:
        raise ValueError(
            f"a plain numpy array must be 2-D (rows x features), got shape {data.shape}"
        )
    if feature_names is None:
        raise ValueError("a 2-D numpy array needs feature_names, one per column")
    names = [str(n) for n in feature_names]
    if len(names) != data.shape[1]:
        raise ValueError(
            f"feature_names has {len(names)} names for an array of {data.shape[1]} columns"
        )
    if len(set(names)) != len(names):
        raise ValueError("feature_names must be unique")
    return {n: _from_objects(data[:, i]) for i, n in enumerate(names)}


def slice_rows(columns: Mapping[str, np.ndarray], chunk_rows: int) -> list[dict[str, np.ndarray]]:
    """Return row chunks of at most ``chunk_rows`` rows (views, no copies)."""
    n = len(next(iter(columns.values()))) if columns else 0
    return [
        {k: v[start : start + chunk_rows] for k, v in columns.items()}
        for start in range(0, max(n, 1), chunk_rows)
    ]


# --------------------------------------------------------------------------- offline normalisation
# The offline readers (baselines.py) pass every column through here before the baseline builder
# or the drift profile sees it, so that a CSV, a Parquet file and each kind of DataFrame give the
# same answer as the live path: missing is missing whatever its marker, a category has one
# spelling (otelml._categories), and a cell of a numeric column that is not a number is a type
# mismatch, not a reason to re-type the column or abort the file.

NUMERIC_SHARE = 0.9
"""A text column is numeric when at least this share of its non-missing cells parse."""


def _is_missing_cell(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return not v.strip()
    try:
        return bool(v != v)  # NaN, NaT
    except (TypeError, ValueError):
        return True  # pandas.NA


def parse_numbers(col: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(float64 values, missing mask, mismatch mask)`` of a text or object column.

    Numbers and numeric strings parse; None, NaN markers and empty strings are missing; any
    other cell (``"?"``, ``"n/a"``, a list) is a mismatch, its value NaN.
    """
    mask = np.ma.getmaskarray(col) if np.ma.isMaskedArray(col) else None
    data = np.asarray(np.ma.getdata(col))
    n = len(data)
    values = np.full(n, np.nan)
    missing = np.zeros(n, dtype=bool) if mask is None else mask.copy()
    mismatch = np.zeros(n, dtype=bool)
    cache: dict[str, float | None] = {}
    for i, v in enumerate(data.tolist()):
        if missing[i]:
            continue
        if isinstance(v, numbers.Real):  # booleans too: the live path counts True as 1
            values[i] = float(v)
            missing[i] = v != v
        elif _is_missing_cell(v):
            missing[i] = True
        elif isinstance(v, str):
            if v in cache:
                parsed = cache[v]
            else:
                try:
                    parsed = float(v)
                except ValueError:
                    parsed = None
                if len(cache) < 10_000:  # distinct texts of a column are usually few
                    cache[v] = parsed
            if parsed is None:
                mismatch[i] = True
            elif parsed != parsed:
                missing[i] = True
            else:
                values[i] = parsed
        else:
            mismatch[i] = True
    return values, missing, mismatch


def infer_kind(col: np.ndarray) -> str:
    """Return ``"numeric"`` or ``"categorical"`` for a column, as the live path would count it.

    Integer and float columns are numeric, booleans categorical; a text column is numeric when
    at least :data:`NUMERIC_SHARE` of its non-missing cells parse as numbers.
    """
    kind = np.ma.getdata(col).dtype.kind
    if kind in "iuf":
        return "numeric"
    if kind not in "OUS":
        return "categorical"
    _, missing, mismatch = parse_numbers(col)
    present = int((~missing).sum())
    if present and (present - int(mismatch.sum())) >= NUMERIC_SHARE * present:
        return "numeric"
    return "categorical"


def numeric_column(col: np.ndarray, *, nan_is_missing: bool = True) -> tuple[np.ndarray, int]:
    """Return ``(masked float64 column, type mismatches)``; missing entries are masked.

    Mismatched cells are left unmasked as NaN, so that a baseline counts them as invalid
    (``nan_rate``); with ``nan_is_missing`` a NaN value is masked like any missing one.
    """
    data = np.ma.getdata(col)
    if data.dtype.kind in "iufb":
        values = np.asarray(data, dtype=np.float64)
        missing = np.ma.getmaskarray(col).copy() if np.ma.isMaskedArray(col) else None
        mismatch_count = 0
        if nan_is_missing and values.dtype.kind == "f":
            nan = np.isnan(values)
            missing = nan if missing is None else (missing | nan)
        if missing is None:
            return values, 0
        return np.ma.MaskedArray(values, mask=missing), mismatch_count
    values, missing, mismatch = parse_numbers(col)
    return np.ma.MaskedArray(values, mask=missing & ~mismatch), int(mismatch.sum())


def categorical_column(col: np.ndarray) -> np.ndarray:
    """Return an object column of canonical category strings, None where missing."""
    from otelml._categories import canonical_array

    return canonical_array(col)
