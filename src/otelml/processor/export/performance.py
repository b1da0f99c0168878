"""The ground-truth join's families: performance counters and histograms, label delay, status.

Counters and histograms come from the join's all-time cells (cumulative, so they sum across
replicas); gauges from the performance evaluator's latest results.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from otelml.processor.evaluate.performance import STATUS_CODES as PERF_STATUS
from otelml.processor.export.families import FamilyBuilder
from otelml.processor.export.shapes import HistogramPoint
from otelml.processor.state.perfkeys import DELAY_BUCKETS, score_bin

if TYPE_CHECKING:
    from otelml.processor.state.context import ProcessorContext


SCORE_EXPORT_EDGES: tuple[float, ...] = tuple(i / 20 for i in range(1, 20))
"""Bounds of ``otelml_performance_score``: a subset of the join's fine score edges, so exact."""


def performance_families(b: FamilyBuilder, ctx: ProcessorContext) -> None:
    joins = ctx.extras.get("joins")
    if joins is None:
        return
    coarse = [score_bin(e) for e in SCORE_EXPORT_EDGES]
    totals = joins.totals()
    for key in sorted(totals):
        c = totals[key]
        b.add("otelml_performance_predictions_total", key, c.predictions)
        b.add("otelml_performance_predictions_labeled_total", key, c.labeled)
        for (actual, predicted), n in sorted(c.confusion.items()):
            b.add("otelml_performance_confusion_total", (*key, actual, predicted), n)
        if c.reg_n:
            b.add("otelml_performance_abs_error_sum_total", key, c.reg_abs)
            b.add("otelml_performance_squared_error_sum_total", key, c.reg_sq)
        if c.prob_n:
            b.add("otelml_performance_logloss_sum_total", key, c.log_loss)
            scale = 0.5 if c.prob_classes == 2 else 1.0
            b.add("otelml_performance_brier_sum_total", key, scale * c.brier)
        if c.pos or c.neg:
            sh = c.score_histograms()
            for actual, fine in (("1", sh.positive), ("0", sh.negative)):
                if not fine.sum():
                    continue
                cum = np.cumsum(fine)
                upto = [int(cum[i]) for i in coarse] + [int(cum[-1])]
                counts = tuple(np.diff([0, *upto]).tolist())
                # The fine bins are 0.001 wide: their centres give the sum within 0.0005/row.
                mids = (np.arange(fine.size) - 0.5) / (fine.size - 2)
                b.hist(
                    "otelml_performance_score",
                    HistogramPoint(
                        (*key, actual),
                        SCORE_EXPORT_EDGES,
                        counts,
                        float(np.dot(fine, np.clip(mids, 0.0, 1.0))),
                        int(cum[-1]),
                    ),
                )
        if key[3] == "" and any(c.delay):
            b.hist(
                "otelml_label_delay_seconds",
                HistogramPoint(
                    key[:3], DELAY_BUCKETS, tuple(c.delay), c.delay_sum, int(sum(c.delay))
                ),
            )
    for (model, name), n in sorted(joins.counters().items()):
        if name in ("joined", "pending", "duplicate", "rejected", "expired"):
            b.add("otelml_actuals_total", (model, name), n)
        elif name == "predictions_expired":
            b.add("otelml_predictions_expired_total", (model,), n)
    for model, n in sorted(joins.pending().items()):
        b.add("otelml_predictions_pending", (model,), n)
    for model, n in sorted(joins.pending_actuals().items()):
        b.add("otelml_actuals_pending", (model,), n)
    for (event, reason), n in sorted(joins.rejected().items()):
        b.add("otelml_join_rejected_total", (event, reason), n)
    evaluator = ctx.extras.get("performance")
    if evaluator is None:
        return
    for ev in evaluator.evaluate():
        key = ev.key
        b.add("otelml_performance_status", key, PERF_STATUS[ev.status])
        if ev.predictions:
            b.add("otelml_label_coverage_ratio", key, ev.coverage)
        for family, values in (
            ("otelml_performance_metric", ev.metrics),
            ("otelml_performance_estimated", ev.estimated),
            ("otelml_performance_baseline", ev.baseline),
        ):
            for metric, v in sorted(values.items()):
                if math.isfinite(v):
                    b.add(family, (*key, metric), v)
        for metric, flagged in sorted(ev.divergence.items()):
            b.add("otelml_performance_estimate_divergence", (*key, metric), int(flagged))
