"""Counting the values of an object array or list: categories in first-seen or sorted order."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import numpy as np

_PANDAS_COUNT_AT = 1000  # below this, pandas' per-call cost outweighs its faster hash table


def count_objects(arr: np.ndarray, values: list[Any] | None) -> dict[Any, int]:
    """Return ``{value: count}`` of an object array in first-seen order ({} if unhashable).

    Equal values of different types (1, 1.0, True) share one key, so callers accept the
    result only when every key is a ``str`` (or None). With pandas already imported, its hash
    table counts about twice as fast as :class:`collections.Counter`; pandas merges None, NaN
    and other missing markers into one code, so any of them sends the array to the Counter.
    """
    pd = sys.modules.get("pandas")
    if pd is not None and len(arr) >= _PANDAS_COUNT_AT:
        try:
            codes, uniques = pd.factorize(arr)
        except TypeError:
            return {}
        if len(codes) and codes.min() >= 0:
            counts = np.bincount(codes, minlength=len(uniques))
            return dict(zip(uniques.tolist(), counts.tolist(), strict=True))
    try:
        return Counter(arr.tolist() if values is None else values)
    except TypeError:
        return {}


def sorted_counts(values: list[Any]) -> dict[str, int]:
    """Return ``{str(value): count}`` in sorted order, as ``np.unique`` would give it."""
    return {str(k): c for k, c in sorted(Counter(values).items())}


def label_counts(labels: np.ndarray) -> dict[str, int]:
    """Return the counts of ``labels.astype(str)`` in sorted order, without converting when
    the labels are already Python strings (the usual object array of class names)."""
    arr = np.asarray(labels)
    if arr.dtype.kind == "O":
        counts = count_objects(arr, None)
        # A numpy str array drops trailing NULs: such labels take numpy's own path.
        if counts and all(type(k) is str and not k.endswith("\0") for k in counts):
            return dict(sorted(counts.items()))
    return sorted_counts(arr.astype(str).tolist())
