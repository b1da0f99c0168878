"""What performance state is measured on: score bins, label-delay buckets, metric names.

Shared by the state (:mod:`otelml.processor.state.perfstate`), the evaluation and the exporters,
so that a bin or a metric means the same wherever it is read.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np

from otelml.stats.performance import default_score_edges

SCORE_EDGES = default_score_edges()
"""Edges of every score histogram here (1001 edges, 1002 upper-inclusive bins)."""

DELAY_BUCKETS: tuple[float, ...] = (
    1.0,
    10.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    21600.0,
    86400.0,
    259200.0,
    604800.0,
    1209600.0,
    2592000.0,
)
"""Upper bounds (seconds) of the label-delay histogram: 1 s … 30 days, then +Inf."""

METRIC_NAMES: tuple[str, ...] = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "mae",
    "rmse",
    "mape",
    "r2",
)
"""Values of the ``metric`` label of the performance gauges."""

KINDS = ("binary", "multiclass", "regression")


_EDGE_LIST: list[float] = SCORE_EDGES.tolist()


def score_bin(score: float) -> int:
    """Return the index of ``score``'s bin on :data:`SCORE_EDGES` (upper-inclusive).

    ``bisect_left`` is ``np.searchsorted(side="left")`` without numpy's per-call overhead, which
    dominates when rows come one at a time.
    """
    return bisect.bisect_left(_EDGE_LIST, score)


# Sparse score-bin counts, as the performance cells keep them.


def add_count(d: dict[Any, int], k: Any, n: int) -> None:
    v = d.get(k, 0) + n
    if v:
        d[k] = v
    else:
        d.pop(k, None)


def dense(d: dict[int, int]) -> np.ndarray:
    out = np.zeros(SCORE_EDGES.size + 1, dtype=np.int64)
    if d:
        idx = np.fromiter(d.keys(), dtype=np.int64, count=len(d))
        out[idx] = np.fromiter(d.values(), dtype=np.int64, count=len(d))
    return out


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan
