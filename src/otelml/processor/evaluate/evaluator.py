"""Periodic evaluation: drift, prediction drift, data quality and volume per model version.

On every interval the :class:`Evaluator` takes, for each (model, version, environment) with data
in its evaluation window, one merged copy of the window from the
:class:`~otelml.processor.state.aggregator.Aggregator` and compares every (feature, segment) series
with its reference:

- ``reference="auto"`` (default): the model version's frozen baseline from the
  :class:`~otelml.processor.evaluate.baselines.BaselineRegistry` (falling back to an earlier
  version's), or the previous window when there is none;
- ``"baseline"``: the frozen baseline only (no baseline, no drift);
- ``"previous_window"``: always the window before the current one (a rolling baseline, counted
  on the frozen baseline's bins when there is one, so shares stay comparable).

Drift per series comes from :func:`otelml.stats.compare.compare`; statuses from
:func:`otelml.stats.decision.decide` across the features of one segment (Benjamini-Hochberg);
the prediction series is decided on its own. Results are kept in memory (the latest per model
plus a bounded history per series) and read by the exporters and the API; the run time goes into
the processor's self-telemetry. The clock is injected.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otelml.processor.evaluate import freeze
from otelml.processor.evaluate.baselines import BaselineEntry, BaselineRegistry, share_caps
from otelml.processor.evaluate.parts import current_sketch, kind_of, missing_features, quality_rates
from otelml.processor.evaluate.policy import drift_settings
from otelml.processor.evaluate.results import (
    QUALITY_ISSUES,
    REFERENCES,
    STATUS_CODES,
    BinShare,
    BinShares,
    FeatureEvaluation,
    HistoryPoint,
    ModelEvaluation,
    ModelKey,
    Reference,
    bin_shares,
    finite,
    format_le,
    numeric_labels,
    worst_status,
)
from otelml.processor.state.aggregator import (
    PREDICTION_FEATURE,
    Aggregator,
    FeatureWindow,
    SeriesKey,
    align,
)
from otelml.processor.telemetry import ProcessorTelemetry
from otelml.stats.baseline import Baseline, FeatureBaseline
from otelml.stats.categorical import CategoryCounts
from otelml.stats.drift import DriftResult
from otelml.stats.histogram import FixedHistogram

__all__ = [  # the result records live in evaluation_types; importable from here as before
    "QUALITY_ISSUES",
    "REFERENCES",
    "STATUS_CODES",
    "BinShare",
    "BinShares",
    "Evaluator",
    "FeatureEvaluation",
    "HistoryPoint",
    "ModelEvaluation",
    "ModelKey",
    "Reference",
    "current_sketch",
    "finite",
    "format_le",
    "numeric_labels",
    "worst_status",
]

log = logging.getLogger(__name__)


@dataclass
class Evaluator:
    """Evaluates every model with data on an interval and keeps the results.

    Parameters
    ----------
    aggregator, registry
        Where current data and baselines come from.
    config
        The processor config (``evaluation``, ``drift`` sections); None gives the defaults.
    telemetry
        Self-telemetry that receives each run's duration.
    clock
        Time source (unix seconds).
    reference
        See the module docstring.
    history_size
        Evaluations kept per series for the API's feature history.
    """

    aggregator: Aggregator
    registry: BaselineRegistry
    config: Any = None
    telemetry: ProcessorTelemetry | None = None
    clock: Callable[[], float] = time.time
    reference: Reference = "auto"
    history_size: int = 1440
    _latest: dict[ModelKey, ModelEvaluation] = field(default_factory=dict, repr=False)
    _history: dict[SeriesKey, deque[HistoryPoint]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _due: dict[ModelKey, float] = field(default_factory=dict, repr=False)
    generation: int = field(default=0, init=False)
    """Changes whenever new results are recorded (exporters cache on it)."""

    def __post_init__(self) -> None:
        if self.reference not in REFERENCES:
            raise ValueError(f"reference must be one of {REFERENCES}, got {self.reference!r}")
        if self.config is None:
            from otelml.processor.config import ProcessorConfig

            self.config = ProcessorConfig()
        self._policy = drift_settings(self.config)
        if isinstance(self.registry, BaselineRegistry):  # the caps that join the two
            share_caps(self.aggregator, self.registry, self.config)

    # -- reading ---------------------------------------------------------------------------------

    def latest(self) -> dict[ModelKey, ModelEvaluation]:
        """Return the latest evaluation of every model (a copy of the mapping)."""
        with self._lock:
            return dict(self._latest)

    def history(self, key: SeriesKey) -> list[HistoryPoint]:
        """Return a series' history, oldest first."""
        with self._lock:
            return list(self._history.get(key, ()))

    # -- evaluating ------------------------------------------------------------------------------

    def window_bounds(self, model: str, now: float) -> tuple[float, float]:
        """Return ``(start, end)`` of ``model``'s current window at ``now`` (end past ``now``)."""
        res = self.aggregator.resolution_s
        end = float(align(now, res) + res)
        return end - self.config.model_window_s(model), end

    def evaluate(
        self, now: float | None = None, *, only_due: bool = False
    ) -> list[ModelEvaluation]:
        """Evaluate every model with data in its window (only those due, if asked); return them."""
        t0 = time.perf_counter()
        now = self.clock() if now is None else now
        by_window: dict[tuple[float, float], list[ModelKey]] = {}
        models = self.aggregator.models()
        for mk in models:
            if only_due and self._due.get(mk, -math.inf) > now:
                continue
            by_window.setdefault(self.window_bounds(mk[0], now), []).append(mk)
        out: list[ModelEvaluation] = []
        stale = set(self.latest()) - set(models)
        for (start, end), keys in by_window.items():
            wanted = set(keys)
            rolling = {mk for mk in keys if self._needs_previous(mk)}

            def keep(k: SeriesKey, wanted: set[ModelKey] = wanted) -> bool:
                return k.model_key in wanted

            def keep_rolling(k: SeriesKey, rolling: set[ModelKey] = rolling) -> bool:
                return k.model_key in rolling

            current = _group(self.aggregator.window(keep, start, end))
            previous: dict[ModelKey, dict[SeriesKey, FeatureWindow]] = {}
            if rolling:
                previous = _group(self.aggregator.window(keep_rolling, 2 * start - end, start))
            for mk in keys:
                self._due[mk] = now + self.config.model_interval_s(mk[0])
                series = current.get(mk)
                if not series:
                    stale.add(mk)  # no data in the window: stop exporting old results
                    continue
                out.append(self._evaluate_model(mk, series, previous.get(mk, {}), now, start, end))
        self._record(out, stale)
        if self.telemetry is not None and out:
            # Only runs that evaluated something: the 1 s due-checks would swamp the histogram.
            self.telemetry.record_evaluation(time.perf_counter() - t0)
        return out

    def _needs_previous(self, mk: ModelKey) -> bool:
        if self.reference == "previous_window":
            return True
        return self.reference == "auto" and self.registry.get(mk[0], mk[1]) is None

    def _record(self, evaluations: list[ModelEvaluation], stale: set[ModelKey]) -> None:
        with self._lock:
            dropped = [k for k in stale if self._latest.pop(k, None) is not None]
            if evaluations or dropped:
                self.generation += 1
            for ev in evaluations:
                self._latest[ev.key] = ev
                for fe in (*ev.features, *ev.segments, *ev.prediction):
                    key = SeriesKey(ev.model, ev.version, ev.environment, fe.feature, fe.segment)
                    hist = self._history.get(key)
                    if hist is None:
                        hist = self._history[key] = deque(maxlen=self.history_size)
                    d = fe.drift
                    hist.append(
                        HistoryPoint(
                            ev.evaluated_at,
                            fe.status,
                            None if d is None else d.method,
                            None if d is None else d.statistic,
                            None if d is None else d.p_value,
                            None if d is None else d.effect_size,
                            fe.rows,
                        )
                    )

    def _reference(
        self, mk: ModelKey, previous: Mapping[SeriesKey, FeatureWindow]
    ) -> tuple[str, BaselineEntry | None, Callable[[str, str], FeatureBaseline | None]]:
        entry = self.registry.get(mk[0], mk[1])
        frozen = entry.baseline if entry is not None else None
        use_previous = self.reference == "previous_window" or (
            self.reference == "auto" and frozen is None
        )
        if not use_previous:
            if frozen is None:
                return "none", None, lambda f, s: None
            return "baseline", entry, lambda f, s: _frozen_feature(frozen, f)

        def rolling(feature: str, segment: str) -> FeatureBaseline | None:
            w = previous.get(SeriesKey(*mk, feature, segment))
            if w is None or w.is_empty:
                return None
            ref = _frozen_feature(frozen, feature) if frozen is not None else None
            edges = ref.edges if ref is not None and ref.kind == "numeric" else None
            imp = ref.importance if ref is not None else None
            return freeze.feature_baseline(feature, w, edges=edges, importance=imp)

        return "previous_window", entry, rolling

    def _evaluate_model(
        self,
        mk: ModelKey,
        series: Mapping[SeriesKey, FeatureWindow],
        previous: Mapping[SeriesKey, FeatureWindow],
        now: float,
        start: float,
        end: float,
    ) -> ModelEvaluation:
        reference, entry, ref_of = self._reference(mk, previous)
        by_segment: dict[str, dict[str, tuple[FeatureBaseline | None, FeatureWindow]]] = {}
        for key, w in series.items():
            by_segment.setdefault(key.segment, {})[key.feature] = (
                ref_of(key.feature, key.segment),
                w,
            )
        features: list[FeatureEvaluation] = []
        segments: list[FeatureEvaluation] = []
        prediction: list[FeatureEvaluation] = []
        for segment in sorted(by_segment):
            group = by_segment[segment]
            pred = group.pop(PREDICTION_FEATURE, None)
            if segment == "":
                frozen = None if entry is None else entry.baseline
                features.extend(missing_features(frozen, group, pred and pred[1]))
            evals = self._evaluate_group(segment, group)
            (features if segment == "" else segments).extend(evals)
            if pred is not None:
                prediction.extend(self._evaluate_group(segment, {PREDICTION_FEATURE: pred}))
        features.sort(key=lambda f: (-f.weighted_score, f.feature))
        pred_all = [p for p in prediction if p.segment == ""]
        rows_series = series.get(SeriesKey(*mk, PREDICTION_FEATURE, ""))
        if rows_series is not None:
            rows = rows_series.rows
        else:
            rows = max((w.rows for k, w in series.items() if k.segment == ""), default=0)
        return ModelEvaluation(
            model=mk[0],
            version=mk[1],
            environment=mk[2],
            evaluated_at=now,
            window_start=start,
            window_end=end,
            reference=reference,
            baseline_version=None if entry is None else entry.baseline_version,
            fallback=False if entry is None else entry.fallback,
            status=worst_status([f.status for f in (*features, *pred_all)]),
            features=tuple(features),
            segments=tuple(segments),
            prediction=tuple(prediction),
            rows=rows,
            features_drifted=sum(f.status == "drift" for f in features),
        )

    def _evaluate_group(
        self, segment: str, group: Mapping[str, tuple[FeatureBaseline | None, FeatureWindow]]
    ) -> list[FeatureEvaluation]:
        from otelml.stats.decision import decide, rank_features

        sketches: dict[str, FixedHistogram | CategoryCounts] = {}
        pairs: dict[str, tuple[FeatureBaseline, FixedHistogram | CategoryCounts]] = {}
        for name, (ref, w) in group.items():
            if ref is not None:
                sketches[name] = current_sketch(ref, w)
                pairs[name] = (ref, sketches[name])
        results = self._compare(pairs)
        policy = self._policy.policy
        decided = decide(results, policy) if results else {}
        importances = {n: r.importance for n, (r, _) in pairs.items() if r.importance is not None}
        # effect size / the method's drift threshold x importance: one scale across methods
        scores = dict(rank_features(results, importances, policy)) if results else {}
        out = []
        for name in sorted(group):
            ref, w = group[name]
            drift = results.get(name)
            status = decided[name].status if name in decided else "insufficient_data"
            quality, reference_quality, quality_status = quality_rates(ref, w, sketches.get(name))
            out.append(
                FeatureEvaluation(
                    feature=name,
                    segment=segment,
                    kind=ref.kind if ref is not None else kind_of(w),
                    status=status,
                    drift=drift,
                    importance=None if ref is None else ref.importance,
                    weighted_score=scores.get(name, 0.0),
                    quality=quality,
                    reference_quality=reference_quality,
                    quality_status=quality_status,
                    bins=bin_shares(ref, sketches.get(name)),
                    rows=w.rows,
                )
            )
        return out

    def _compare(
        self, pairs: Mapping[str, tuple[FeatureBaseline, FixedHistogram | CategoryCounts]]
    ) -> dict[str, DriftResult]:
        """Return drift per feature, batched per method; features that cannot be compared
        (a configured method that does not fit their kind) are left out and logged."""
        from otelml.stats.compare import compare, compare_many

        p = self._policy
        try:
            return compare_many(
                pairs, numeric_method=p.method_numeric, categorical_method=p.method_categorical
            )
        except ValueError:
            pass  # one bad pair fails the batch: find it feature by feature
        results: dict[str, DriftResult] = {}
        for name, (ref, sketch) in pairs.items():
            method = p.method_numeric if ref.kind == "numeric" else p.method_categorical
            try:
                results[name] = compare(ref, sketch, method=method)
            except ValueError as exc:
                log.warning("drift of %s not computed: %s", name, exc)
        return results

    # -- running ---------------------------------------------------------------------------------

    async def run(self, tick_s: float = 1.0) -> None:
        """Evaluate models as they fall due, until cancelled (runs evaluations in a thread)."""
        while True:
            try:
                await asyncio.to_thread(self.evaluate, only_due=True)
            except Exception:  # an evaluation bug must not stop the service's exports
                log.exception("evaluation failed")
            await asyncio.sleep(min(tick_s, float(self.config.evaluation.interval_s)))


_Grouped = dict[ModelKey, dict[SeriesKey, FeatureWindow]]


def _group(windows: Mapping[SeriesKey, FeatureWindow]) -> _Grouped:
    out: _Grouped = {}
    for key, w in windows.items():
        out.setdefault(key.model_key, {})[key] = w
    return out


def _frozen_feature(baseline: Baseline, feature: str) -> FeatureBaseline | None:
    if feature == PREDICTION_FEATURE:
        return baseline.prediction
    return baseline.features.get(feature)
