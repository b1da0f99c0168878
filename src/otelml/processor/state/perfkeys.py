"""What performance state is measured on: score bins, label-delay buckets, metric names.

Shared by the state (:mod:`otelml.processor.state.perfstate`), the evaluation and the exporters,
so that a bin or a metric means the same wherever it is read.
"""

from __future__ import annotations

import bisect

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
