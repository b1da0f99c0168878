"""The segments of a batch: its rows grouped by the values of the ``segment_by`` columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def segment_groups(
    by: Sequence[str], columns: Mapping[str, Any], n: int
) -> list[tuple[dict[str, str], np.ndarray]]:
    """Return ``({column: value}, row indices)`` per distinct combination, in sorted order.

    Values are compared as ``str`` (a missing column reads ``"None"``); each column is coded
    once with ``np.unique`` and the codes combined, so grouping costs no Python loop per row.
    """
    codes = np.zeros(n, dtype=np.int64)
    uniques = []
    for c in by:
        col = columns.get(c)
        column = np.full(n, "None", dtype=object) if col is None else np.asarray(col)
        u, inv = np.unique(column.astype(str), return_inverse=True)
        codes = codes * len(u) + inv.reshape(-1)
        uniques.append(u)
    groups = []
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    for g, i in enumerate(first.tolist()):
        values: dict[str, str] = {}
        rem = int(codes[i])
        for c, u in zip(reversed(by), reversed(uniques), strict=True):
            values[c] = str(u[rem % len(u)])
            rem //= len(u)
        groups.append((values, np.flatnonzero(inverse.reshape(-1) == g)))
    return groups
