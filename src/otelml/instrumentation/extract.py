"""Turn a predict call's inputs and outputs into rows or columns that the aggregator bins.

A single dict row stays a dict (no numpy on the single-row hot path); every table-like input
(list of dicts, pandas/polars frames, pyarrow tables, 2-D arrays, sparse matrices) becomes one
numpy array per column, so that a batch is binned once per feature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from otelml._categories import canonical, canonical_array
from otelml._tabular import to_columns

_SCALARS = (int, float, str, bool, type(None), np.generic)


@dataclass(slots=True)
class Inputs:
    """Features of one call: ``row`` for one dict-like row, else ``columns`` with ``n`` rows."""

    n: int
    row: dict[str, Any] | None = None
    columns: dict[str, np.ndarray] | None = None
    ids: list[str] | None = None


@dataclass(slots=True)
class Outputs:
    """Model outputs of one call, one entry per row.

    ``values``: numeric output (regression value or positive-class score); ``labels``: class
    labels as strings; ``scores``/``classes``: multiclass probabilities for log records.
    """

    n: int
    values: np.ndarray | list[float] | None = None
    labels: np.ndarray | list[str] | None = None
    scores: np.ndarray | None = None
    classes: tuple[str, ...] | None = None


def _default_names(k: int) -> list[str]:
    return [f"x{i}" for i in range(k)]


def _from_2d(arr: np.ndarray, names: Sequence[str] | None) -> Inputs:
    k = arr.shape[1]
    cols = list(names) if names is not None else _default_names(k)
    if len(cols) != k:
        raise ValueError(f"feature_names has {len(cols)} names but the array has {k} columns")
    return Inputs(n=arr.shape[0], columns={c: arr[:, i] for i, c in enumerate(cols)})


def _from_records(records: Sequence[Mapping[str, Any]]) -> Inputs:
    keys: dict[str, None] = {}
    for rec in records:
        for key in rec:
            keys.setdefault(key, None)
    columns: dict[str, np.ndarray] = {}
    for key in keys:
        values = [rec.get(key) for rec in records]
        columns[str(key)] = _column(values)
    return Inputs(n=len(records), columns=columns)


def _column(values: Sequence[Any]) -> np.ndarray:
    kinds = {type(v) for v in values}
    if kinds <= {float, int} and kinds:
        return np.asarray(values, dtype=np.float64)
    if kinds == {str}:
        return np.asarray(values, dtype=object)
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _sparse_columns(data: Any, names: Sequence[str] | None) -> Inputs:
    # Column-wise access on CSC is O(nnz) per column; dense per-column arrays keep the
    # aggregator's one code path and implicit zeros count as the value 0.
    csc = data.tocsc()
    n, k = csc.shape
    cols = list(names) if names is not None else _default_names(k)
    if len(cols) != k:
        raise ValueError(f"feature_names has {len(cols)} names but the matrix has {k} columns")
    columns = {}
    for j, name in enumerate(cols):
        dense = np.zeros(n, dtype=np.float64)
        start, stop = csc.indptr[j], csc.indptr[j + 1]
        dense[csc.indices[start:stop]] = csc.data[start:stop]
        columns[name] = dense
    return Inputs(n=n, columns=columns)


def to_inputs(data: Any, feature_names: Sequence[str] | None = None) -> Inputs:
    """Return the features in ``data`` as a row or as columns; ValueError for unknown types."""
    if isinstance(data, dict):
        if data and isinstance(next(iter(data.values())), (list, tuple, np.ndarray)):
            columns = {str(k): np.asarray(v) for k, v in data.items()}
            n = len(next(iter(columns.values())))
            return Inputs(n=n, columns=columns)
        return Inputs(n=1, row=data)
    if isinstance(data, np.ndarray):
        if data.ndim == 1:
            names = list(feature_names) if feature_names is not None else _default_names(len(data))
            if len(names) != len(data):
                raise ValueError(
                    f"feature_names has {len(names)} names but the row has {len(data)}"
                )
            return Inputs(n=1, row=dict(zip(names, data.tolist(), strict=True)))
        if data.ndim == 2:
            return _from_2d(data, feature_names)
        raise ValueError(f"expected a 1-D or 2-D array of features, got {data.ndim}-D")
    if isinstance(data, (list, tuple)):
        if not data:
            return Inputs(n=0, columns={})
        first = data[0]
        if isinstance(first, Mapping):
            return _from_records(data)
        if isinstance(first, _SCALARS):
            names = list(feature_names) if feature_names is not None else _default_names(len(data))
            return Inputs(n=1, row=dict(zip(names, data, strict=True)))
        return _from_2d(np.asarray(data), feature_names)
    module = type(data).__module__.split(".", 1)[0]
    if module in ("pandas", "polars", "pyarrow"):
        if module == "pandas" and not hasattr(data, "columns"):  # a Series: one row
            return Inputs(n=1, row={str(k): v for k, v in data.to_dict().items()})
        columns = to_columns(data)
        n = len(next(iter(columns.values()))) if columns else len(data)
        return Inputs(n=n, columns=columns)
    if module == "scipy" and hasattr(data, "tocsc"):
        return _sparse_columns(data, feature_names)
    if isinstance(data, Mapping):
        return to_inputs(dict(data), feature_names)
    raise ValueError(
        f"otelml cannot read features from {type(data).__name__}; pass inputs=callable "
        "returning a dict, a list of dicts, a DataFrame or an array"
    )


def is_table_like(value: Any) -> bool:
    """Return True when ``value`` looks like features rather than a plain scalar argument."""
    if isinstance(value, (dict, list, tuple, np.ndarray, Mapping)):
        return True
    module = type(value).__module__.split(".", 1)[0]
    return module in ("pandas", "polars", "pyarrow", "scipy")


_LABEL_KEYS = ("label", "class", "prediction", "predicted_label")
_VALUE_KEYS = ("score", "probability", "proba", "value", "prediction", "y")


def _label_of(key: str, v: Any, task: str) -> str | None:
    """Return the class label under ``key`` of a dict output, or None if it holds none.

    Integers are class codes (``{"label": 1}``); so are integral floats under a label key.
    Under the ambiguous ``prediction`` key a float is a score, and any number of a regression
    is its value.
    """
    if isinstance(v, (str, np.str_, bool, np.bool_)):
        return canonical(v)
    if key == "prediction" and task == "regression":
        return None
    if isinstance(v, (int, np.integer)):
        return canonical(v)
    if key != "prediction" and isinstance(v, (float, np.floating)) and float(v).is_integer():
        return canonical(v)
    return None


def _from_named_frame(result: Any, cols: list[str], task: str) -> Outputs | None:
    """Read a frame with ``label`` / ``score``-like columns by name; None if it has none."""
    label_col = next((k for k in _LABEL_KEYS if k in cols and k != "prediction"), None)
    value_col = next((k for k in _VALUE_KEYS if k in cols), None)
    if label_col is None and value_col is None:
        return None
    by_name = {str(c): c for c in result.columns}
    out = Outputs(n=len(result))
    if label_col is not None:
        raw = np.asarray(result[by_name[label_col]].to_numpy())
        out.labels = canonical_array(raw)
    if value_col is not None:
        raw = np.asarray(result[by_name[value_col]].to_numpy())
        if raw.dtype.kind in "fiu" and (label_col is not None or task == "regression"):
            out.values = raw.astype(np.float64)
        elif label_col is None:
            return _from_array(raw, task, None)
    return out


def _from_matrix(arr: np.ndarray, classes: Sequence[str] | None) -> Outputs:
    n, k = arr.shape
    if k == 1:
        return Outputs(n=n, values=arr[:, 0].astype(np.float64))
    names = (
        tuple(classes) if classes is not None and len(classes) == k else tuple(map(str, range(k)))
    )
    labels = np.asarray(names, dtype=object)[np.argmax(arr, axis=1)]
    if k == 2:  # binary: the positive-class score is the distribution worth watching
        return Outputs(n=n, values=arr[:, 1].astype(np.float64), labels=labels)
    return Outputs(n=n, labels=labels, scores=arr.astype(np.float64), classes=names)


def _from_array(arr: np.ndarray, task: str, classes: Sequence[str] | None) -> Outputs:
    if arr.ndim == 0:
        return to_outputs(arr.item(), task, classes)
    if arr.ndim == 2:
        if arr.dtype.kind in "fiu":
            return _from_matrix(arr, classes)
        raise ValueError(f"cannot read a 2-D {arr.dtype} output")
    n = len(arr)
    kind = arr.dtype.kind
    if kind == "f" or (kind in "iu" and task == "regression"):
        return Outputs(n=n, values=arr.astype(np.float64, copy=False))
    return Outputs(n=n, labels=arr.astype(str).astype(object))


def to_outputs(result: Any, task: str = "other", classes: Sequence[str] | None = None) -> Outputs:
    """Return a model result as per-row outputs; ValueError for shapes otelml cannot read."""
    t = type(result)
    if t is float or (t is int and task == "regression"):
        return Outputs(n=1, values=[float(result)])
    if t is str or t is bool or t is int:
        return Outputs(n=1, labels=[str(result)])
    if result is None:
        return Outputs(n=0)
    if isinstance(result, np.ndarray):
        return _from_array(result, task, classes)
    if isinstance(result, np.generic):
        return to_outputs(result.item(), task, classes)
    if isinstance(result, (list, tuple)):
        return _from_array(np.asarray(result), task, classes)
    if isinstance(result, Mapping):
        out = Outputs(n=1)
        for key in _LABEL_KEYS:
            label = _label_of(key, result.get(key), task)
            if label is not None:
                out.labels = [label]
                break
        for key in _VALUE_KEYS:
            v = result.get(key)
            if isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
                out.values = [float(v)]
                break
        if out.labels is None and out.values is None:
            raise ValueError(f"no label or score key in the output dict (keys: {list(result)[:5]})")
        return out
    module = t.__module__.split(".", 1)[0]
    if module in ("pandas", "polars"):
        if hasattr(result, "columns"):
            cols = [str(c) for c in result.columns]
            named = _from_named_frame(result, cols, task)
            if named is not None:
                return named
            if len(cols) == 1:
                return _from_array(np.asarray(result.to_numpy()).ravel(), task, classes)
            return _from_matrix(np.asarray(result.to_numpy(), dtype=np.float64), classes or cols)
        return _from_array(np.asarray(result.to_numpy()), task, classes)
    raise ValueError(
        f"otelml cannot read predictions from {t.__name__}; pass outputs=callable returning "
        "a number, a label, an array or a dict"
    )
