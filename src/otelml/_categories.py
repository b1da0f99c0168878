"""One spelling per category, however the value was typed: the client and the offline readers
both call :func:`canonical`, so a baseline built from a CSV and the live app agree.

The canonical form of a number is its shortest exact text with integral floats written as
integers: ``1``, ``1.0``, ``numpy.int8(1)`` and ``numpy.float32(1.0)`` are all ``"1"``, ``2.5``
is ``"2.5"``. Booleans are ``"True"`` / ``"False"`` (Python's spelling, also numpy's and the one
every earlier otelml release sent). Strings are kept as they are.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["canonical", "canonical_array"]


def canonical(value: Any) -> str:
    """Return the category string of one non-missing value."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(v != v)  # NaN, NaT
    except (TypeError, ValueError):
        return True  # pandas.NA: "unknown" is missing


def canonical_array(values: np.ndarray) -> np.ndarray:
    """Return an object array of category strings; masked entries and None stay None.

    NaN is a missing marker here (pandas writes missing strings as NaN), so it becomes None.
    Each distinct value is converted once.
    """
    mask = np.ma.getmaskarray(values) if np.ma.isMaskedArray(values) else None
    data = np.asarray(np.ma.getdata(values))
    out = np.empty(len(data), dtype=object)
    kind = data.dtype.kind
    if kind in "US":
        out[:] = data.astype(str).tolist()
    elif kind in "iub":
        uniq, inverse = np.unique(data, return_inverse=True)
        words = np.asarray([canonical(v) for v in uniq.tolist()] or [""], dtype=object)
        out[:] = words[inverse.reshape(-1)]
    elif kind == "f":
        nan = np.isnan(data)
        uniq, inverse = np.unique(np.where(nan, 0.0, data), return_inverse=True)
        words = np.asarray([canonical(v) for v in uniq.tolist()] or [""], dtype=object)
        out[:] = words[inverse.reshape(-1)]
        out[nan] = None
    else:
        cache: dict[Any, str] = {}
        for i, v in enumerate(data.tolist()):
            if type(v) is str:
                out[i] = v
            elif _missing(v):
                out[i] = None
            else:
                try:
                    word = cache.get((type(v), v))
                    if word is None:
                        word = cache[(type(v), v)] = canonical(v)
                except TypeError:  # unhashable
                    word = canonical(v)
                out[i] = word
    if mask is not None:
        out[mask] = None
    return out
