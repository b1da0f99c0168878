"""What the processor exports, computed at collection time, and its Prometheus text exposition.

:data:`METRICS` (kept in :mod:`otelml.processor.export.catalogue`) is the catalogue of every
metric the processor emits (``collector/metadata.yaml`` lists the same; a test holds them
equal). :func:`collect` builds :class:`Family` objects from
the aggregator's cumulative totals, the evaluator's latest results and the self-telemetry;
:func:`render` (:mod:`otelml.processor.export.exposition`) writes them in the Prometheus text format
0.0.4, and
:mod:`otelml.processor.export.otlp_push` turns the same families into OTLP metrics.

Histograms are cumulative explicit-bucket histograms only (Prometheus 2.42 has no native
histograms by default): numeric totals are counted on the model version's baseline edges
(exponential input projected), or on :data:`DEFAULT_EDGES` when there is no baseline, so that
replicas with the same baseline export identical ``le`` sets that sum across replicas.

Series are capped per metric (:class:`SeriesLimiter`): a label set seen first keeps its place;
beyond the cap, counters are summed into one series whose label values are ``__overflow__``,
gauges and histograms are dropped, and ``otelml_processor_overflow_total{limit="series"}``
counts label sets that could not be exported.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from otelml import semconv
from otelml.processor.evaluate import freeze
from otelml.processor.evaluate.results import STATUS_CODES, FeatureEvaluation
from otelml.processor.export.catalogue import METRICS, METRICS_BY_NAME
from otelml.processor.export.exposition import CONTENT_TYPE, escape_label, format_value, render
from otelml.processor.export.families import (
    FamilyBuilder,
    SeriesLimiter,
    finish_families,
    limiter_of,
)
from otelml.processor.export.performance import SCORE_EXPORT_EDGES, performance_families
from otelml.processor.export.shapes import Family, HistogramPoint, MetricDef, MetricType
from otelml.processor.state.aggregator import FeatureWindow, SeriesKey

if TYPE_CHECKING:
    from otelml.processor.state.context import ProcessorContext

__all__ = [  # the catalogue and the text format live apart; importable from here as before
    "CONTENT_TYPE",
    "DEFAULT_EDGES",
    "METRICS",
    "METRICS_BY_NAME",
    "SCORE_EXPORT_EDGES",
    "Family",
    "HistogramPoint",
    "MetricDef",
    "MetricType",
    "SeriesLimiter",
    "collect",
    "escape_label",
    "exposition",
    "format_value",
    "limiter_of",
    "render",
    "skipped_families",
]

DEFAULT_EDGES: tuple[float, ...] = tuple(
    sorted([-(10.0**k) for k in range(-3, 7)] + [0.0] + [10.0**k for k in range(-3, 7)])
)
"""Fixed log-spaced edges (±1e-3 … ±1e6 and 0) for numeric data without a baseline."""


def _edges_for(
    ctx: ProcessorContext, key: SeriesKey, cache: dict[tuple[str, str, str], tuple[float, ...]]
) -> tuple[float, ...]:
    ck = (key.model, key.version, key.feature)
    edges = cache.get(ck)
    if edges is None:
        edges = DEFAULT_EDGES
        entry = ctx.registry.get(key.model, key.version) if ctx.registry is not None else None
        if entry is not None:
            b = entry.baseline
            fb = b.prediction if key.feature == "__prediction__" else b.features.get(key.feature)
            if fb is not None and fb.kind == "numeric" and fb.edges:
                edges = fb.edges
        cache[ck] = edges
    return edges


def _totals(
    b: FamilyBuilder, ctx: ProcessorContext, totals: dict[SeriesKey, FeatureWindow]
) -> None:
    cache: dict[tuple[str, str, str], tuple[float, ...]] = {}
    for key in sorted(totals):
        w = totals[key]
        f = (key.model, key.version, key.environment, key.feature, key.segment)
        if key.feature == "__prediction__":
            p = (key.model, key.version, key.environment, key.segment)
            b.add("otelml_predictions_total", p, w.rows)
        else:
            b.add("otelml_feature_missing_total", f, w.missing)
            for issue in semconv.QUALITY_ISSUES:
                b.add("otelml_feature_invalid_total", (*f, issue), w.invalid.get(issue, 0))
            if w.categories is not None:
                for cat, n in sorted(w.categories.counts.items()):
                    b.add("otelml_feature_category_total", (*f, cat), n)
        parts = list(w.numeric_parts())
        if parts:
            h = freeze.on_edges(parts, _edges_for(ctx, key, cache))
            b.hist(
                "otelml_feature_values",
                HistogramPoint(
                    f,
                    tuple(h.edges.tolist()),
                    tuple(int(c) for c in h.counts),
                    float(h.sum) if math.isfinite(h.sum) else 0.0,
                    h.count,
                ),
            )


def _evaluations(b: FamilyBuilder, ctx: ProcessorContext) -> None:
    if ctx.evaluator is None:
        return
    # Families turned off are never built (they are most of the work), not built and dropped.
    bins = "otelml_feature_bin_share" not in b.skip
    quality = "otelml_feature_quality_ratio" not in b.skip
    ref_quality = "otelml_feature_quality_baseline_ratio" not in b.skip
    latest = ctx.evaluator.latest()
    info_seen: set[tuple[str, ...]] = set()
    for mk in sorted(latest):
        ev = latest[mk]
        b.add("otelml_model_status", mk, STATUS_CODES[ev.status])
        b.add("otelml_model_features_drifted", mk, ev.features_drifted)
        b.add("otelml_model_window_rows", mk, ev.rows)
        b.add("otelml_model_evaluation_timestamp_seconds", mk, ev.evaluated_at)
        info = (
            ev.model,
            ev.version,
            ev.baseline_version or "",
            str(ev.fallback).lower(),
            ev.reference,
        )
        if info not in info_seen:
            info_seen.add(info)
            b.add("otelml_model_baseline_info", info, 1)
        for fe in ev.prediction:
            p = (*mk, fe.segment)
            b.add("otelml_prediction_drift_status", p, STATUS_CODES[fe.status])
            if fe.drift is not None:
                b.add("otelml_prediction_drift_score", (*p, fe.drift.method), fe.drift.statistic)
            if bins:
                _bins_of(b, (*mk, fe.feature, fe.segment), fe)
        for fe in (*ev.features, *ev.segments):
            f = (*mk, fe.feature, fe.segment)
            b.add("otelml_feature_drift_status", f, STATUS_CODES[fe.status])
            d = fe.drift
            if d is not None:
                b.add("otelml_feature_drift_score", (*f, d.method), d.statistic)
                if d.p_value is not None:
                    b.add("otelml_feature_drift_pvalue", (*f, d.method), d.p_value)
                b.add("otelml_feature_drift_effect_size", f, d.effect_size)
                b.add("otelml_feature_drift_weighted_score", f, fe.weighted_score)
            if quality:
                for issue, v in fe.quality.items():
                    b.add("otelml_feature_quality_ratio", (*f, issue), v)
            if d is not None and ref_quality:
                for issue, v in fe.reference_quality.items():
                    b.add("otelml_feature_quality_baseline_ratio", (*f, issue), v)
            if bins:
                _bins_of(b, f, fe)


def _bins_of(b: FamilyBuilder, f: tuple[str, ...], fe: FeatureEvaluation) -> None:
    bs = fe.bins
    for label, le, cur in zip(bs.labels, bs.les, bs.current, strict=True):
        b.add("otelml_feature_bin_share", (*f, label, le, "current"), cur)
    for label, le, ref in zip(bs.labels, bs.les, bs.reference, strict=True):
        b.add("otelml_feature_bin_share", (*f, label, le, "baseline"), ref)


def overflow_counts(ctx: ProcessorContext, counted: dict[str, int] | None = None) -> dict[str, int]:
    """Return the overflow of every cap: the telemetry's, the join's and the registry's."""
    out = dict(ctx.telemetry.snapshot().overflow if counted is None else counted)
    for part in (ctx.extras.get("joins"), ctx.registry):
        more = getattr(part, "overflow", None)
        if callable(more):
            for limit, n in more().items():
                out[limit] = out.get(limit, 0) + n
    return out


def quarantined_counts(ctx: ProcessorContext) -> dict[str, int]:
    """Return the stored rows set aside at start-up, by table (the store's and the join's)."""
    out: dict[str, int] = {}
    for part in (ctx.extras.get("store"), ctx.extras.get("joins")):
        counts = getattr(part, "quarantined", None)
        if callable(counts):
            out.update(counts())
    return out


def _self(b: FamilyBuilder, ctx: ProcessorContext) -> None:
    snap = ctx.telemetry.snapshot()
    for signal, n in sorted(snap.received.items()):
        b.add("otelml_processor_received_total", (signal,), n)
    for signal, n in sorted(snap.accepted.items()):
        b.add("otelml_processor_accepted_total", (signal,), n)
    for (signal, reason), n in sorted(snap.rejected.items()):
        b.add("otelml_processor_rejected_total", (signal, reason), n)
    for limit, n in sorted(overflow_counts(ctx, snap.overflow).items()):
        b.add("otelml_processor_overflow_total", (limit,), n)
    for event, n in sorted(snap.events.items()):
        b.add("otelml_processor_events_total", (event,), n)
    for table, n in sorted(quarantined_counts(ctx).items()):
        b.add("otelml_processor_quarantined_total", (table,), n)
    b.hist(
        "otelml_processor_evaluation_duration_seconds",
        HistogramPoint(
            (),
            snap.evaluation_buckets,
            snap.evaluation_counts,
            snap.evaluation_sum,
            snap.evaluation_count,
        ),
    )
    b.add("otelml_processor_queue_depth", (), snap.queue_depth)
    b.add("otelml_processor_db_size_bytes", (), snap.db_size_bytes)


def _performance_part(ctx: ProcessorContext) -> list[Family]:
    b = FamilyBuilder(limiter_of(ctx))
    performance_families(b, ctx)
    return finish_families(b, ctx)


def _totals_part(ctx: ProcessorContext) -> list[Family]:
    b = FamilyBuilder(limiter_of(ctx))
    _totals(b, ctx, ctx.aggregator.totals())
    return finish_families(b, ctx)


@dataclass(slots=True)
class _EvaluationCache:
    key: tuple[int, object, frozenset[str]]
    families: list[Family]
    text: str | None = None


_QUALITY_FAMILIES = frozenset(
    {"otelml_feature_quality_ratio", "otelml_feature_quality_baseline_ratio"}
)


def skipped_families(ctx: ProcessorContext) -> frozenset[str]:
    """Return the metric names that ``export.prometheus`` turns off on ``/metrics``."""
    opts = ctx.config.export.prometheus
    out: set[str] = set()
    if not opts.bin_share:
        out.add("otelml_feature_bin_share")
    if not opts.quality_gauges:
        out |= _QUALITY_FAMILIES
    return frozenset(out)


def _cache_lock(ctx: ProcessorContext) -> threading.Lock:
    # Scrapes run in worker threads (and the OTLP push beside them): one lock makes a second
    # concurrent scrape wait for the first one's rendering and reuse it instead of redoing it.
    lock: threading.Lock = ctx.extras.setdefault("prometheus_cache_lock", threading.Lock())
    return lock


def _evaluation_part(ctx: ProcessorContext, skip: frozenset[str] = frozenset()) -> _EvaluationCache:
    """Return the evaluation's families (and their text once rendered), cached per evaluation.

    They change only when the evaluator runs, and are most of a scrape (bin shares, quality).
    Call with the cache lock held. One entry per set of skipped families, so that the OTLP
    push (everything) and ``/metrics`` (options applied) do not evict each other.
    """
    # The generation is read before the results: a cached entry is never older than its key.
    key = (id(ctx.evaluator), getattr(ctx.evaluator, "generation", None), skip)
    caches = ctx.extras.setdefault("prometheus_evaluation_cache", {})
    cached = caches.get(skip)
    if isinstance(cached, _EvaluationCache) and cached.key == key:
        return cached
    b = FamilyBuilder(limiter_of(ctx), skip)
    _evaluations(b, ctx)
    part = _EvaluationCache(key, finish_families(b, ctx))
    caches[skip] = part
    return part


def _totals_text(ctx: ProcessorContext) -> str:
    """Return the aggregator totals' text, re-rendered only when the totals or baselines change.

    Call with the cache lock held.
    """
    agg, reg = ctx.aggregator, ctx.registry
    # Read before the snapshot is taken (see _evaluation_part); baselines give the edges.
    key = (id(agg), agg.generation, id(reg), getattr(reg, "generation", None))
    cached = ctx.extras.get("prometheus_totals_cache")
    if isinstance(cached, tuple) and cached[0] == key:
        text: str = cached[1]
        return text
    text = render(_totals_part(ctx))
    ctx.extras["prometheus_totals_cache"] = (key, text)
    return text


def _self_part(ctx: ProcessorContext) -> list[Family]:
    b = FamilyBuilder(limiter_of(ctx))
    _self(b, ctx)
    return finish_families(b, ctx)


def collect(ctx: ProcessorContext) -> list[Family]:
    """Return every metric family with points (aggregator totals, latest evaluation, self)."""
    totals = _totals_part(ctx)
    with _cache_lock(ctx):
        evaluation = _evaluation_part(ctx).families
    return [*totals, *evaluation, *_performance_part(ctx), *_self_part(ctx)]


def exposition(ctx: ProcessorContext) -> str:
    """Return the ``/metrics`` body for ``ctx`` (the four parts name disjoint metrics).

    The totals and evaluation parts are rendered once per aggregator / evaluator generation
    and reused by the scrapes in between; families turned off in ``export.prometheus`` are
    absent.
    """
    with _cache_lock(ctx):
        totals = _totals_text(ctx)
        evaluation = _evaluation_part(ctx, skipped_families(ctx))
        if evaluation.text is None:
            evaluation.text = render(evaluation.families)
        evaluation_text = evaluation.text
    performance = render(_performance_part(ctx))
    return totals + evaluation_text + performance + render(_self_part(ctx))
