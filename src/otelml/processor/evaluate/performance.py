"""Performance of each model version and segment over its evaluation window, realised and estimated.

For every (model, version, environment, segment) with predictions in the window
(``performance.window_s`` of prediction time, ending with the current performance window) the
:class:`PerformanceEvaluator` merges the join's cells and reports:

- the realised metrics of the joined rows (:data:`~otelml.processor.state.perfkeys.METRIC_NAMES`),
  label coverage and the count behind them;
- the baseline's metrics (``Baseline.performance``; for a binary classifier without them, those
  of its labelled reference scores) and a status from
  :func:`otelml.stats.performance.compare_performance`: ``ok``, ``degraded``, or
  ``insufficient_data`` (fewer than ``performance.min_labels`` labels, or no reference);
- for binary classifiers whose baseline carries labelled reference scores, the CBPE estimate of
  accuracy, precision, recall, F1 and ROC AUC from the score histogram of *all* the window's
  predictions, and a divergence flag per metric: the realised value against the CBPE estimate
  for the *same labelled rows*, beyond ``divergence_k`` standard errors + ``divergence_floor``
  (:func:`otelml.stats.cbpe.divergence`). Comparing like with like keeps a label sample that is
  not random (only flagged cases get labels) from raising the flag by itself.

The CBPE estimator is fitted once per baseline and cached. Results are cached per join and
registry generation and per evaluation window.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otelml.processor.state.joins import Joins
from otelml.processor.state.perfkeys import METRIC_NAMES, SCORE_EDGES
from otelml.processor.state.perfstate import Cell
from otelml.stats.cbpe import CBPEEstimator, divergence
from otelml.stats.performance import compare_performance

STATUS_CODES: dict[str, int] = {"ok": 0, "degraded": 1, "insufficient_data": -1}
"""Numeric coding of ``otelml_performance_status``."""
CBPE_METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1", "roc_auc")
_ALIASES = {"average_precision": "pr_auc", "roc_auc_score": "roc_auc", "logloss": "log_loss"}


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _clean(d: Mapping[str, float]) -> dict[str, float | None]:
    return {k: _finite(v) for k, v in d.items()}


@dataclass(frozen=True)
class PerformanceEvaluation:
    """Performance of one series over one evaluation window."""

    model: str
    version: str
    environment: str
    segment: str
    window_start: float
    window_end: float
    evaluated_at: float
    kind: str | None
    predictions: int
    labeled: int
    metrics: Mapping[str, float]
    baseline: Mapping[str, float]
    status: str
    degraded: tuple[str, ...] = ()
    estimated: Mapping[str, float] = field(default_factory=dict)
    estimated_std_errors: Mapping[str, float] = field(default_factory=dict)
    divergence: Mapping[str, bool] = field(default_factory=dict)
    divergence_bounds: Mapping[str, float] = field(default_factory=dict)
    roc_auc_bound: float = math.nan

    @property
    def coverage(self) -> float:
        """Share of the window's predictions with an actual (nan without predictions)."""
        return self.labeled / self.predictions if self.predictions > 0 else math.nan

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Return ``(model, version, environment, segment)``."""
        return (self.model, self.version, self.environment, self.segment)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (absent or undefined figures are null)."""
        return {
            "segment": self.segment,
            "window": {"start": self.window_start, "end": self.window_end},
            "evaluated_at": self.evaluated_at,
            "kind": self.kind,
            "predictions": self.predictions,
            "labeled": self.labeled,
            "coverage": _finite(self.coverage),
            "status": self.status,
            "degraded": list(self.degraded),
            "metrics": _clean(self.metrics),
            "estimated": _clean(self.estimated),
            "estimated_std_errors": _clean(self.estimated_std_errors),
            "baseline": _clean(self.baseline),
            "divergence": dict(self.divergence),
            "divergence_bounds": _clean(self.divergence_bounds),
            "roc_auc_bound": _finite(self.roc_auc_bound),
        }


class PerformanceEvaluator:
    """Evaluates every series with predictions in its window; caches estimators and results."""

    def __init__(
        self,
        joins: Joins,
        registry: Any,
        config: Any,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.joins = joins
        self.registry = registry
        self.config = config
        self.clock = clock
        self._lock = threading.Lock()
        self._estimators: dict[tuple[str, str, int], CBPEEstimator | None] = {}
        self._cache: tuple[tuple[Any, ...], list[PerformanceEvaluation]] | None = None

    def window_bounds(self, now: float) -> tuple[float, float]:
        """Return ``(start, end)`` of the evaluation window at ``now``."""
        p = self.config.performance
        end = float(math.floor(now / p.resolution_s) * p.resolution_s + p.resolution_s)
        return end - p.window_s, end

    def evaluate(self, now: float | None = None) -> list[PerformanceEvaluation]:
        """Return the evaluation of every series with predictions in the window."""
        now = self.clock() if now is None else now
        start, end = self.window_bounds(now)
        # Keyed by the window itself: a minute key served the previous window's results for
        # the rest of the minute when performance.resolution_s is shorter.
        key = (self.joins.generation, getattr(self.registry, "generation", 0), start, end)
        with self._lock:
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
        out = [
            self._evaluate(sk, cell, start, end, now)
            for sk, cell in sorted(self.joins.window(start, end).items())
            if cell.predictions > 0 or cell.labeled > 0
        ]
        with self._lock:
            self._cache = (key, out)
        return out

    # -- one series ------------------------------------------------------------------------------

    def _evaluate(
        self, sk: tuple[str, str, str, str], cell: Cell, start: float, end: float, now: float
    ) -> PerformanceEvaluation:
        model, version, env, segment = sk
        perf = self.config.performance
        kind = cell.kind()
        binary = kind == "binary" or (kind is None and bool(cell.score_all))
        positive = perf.positive_label_of(model)
        realised = {k: v for k, v in cell.metrics(positive, binary).items() if k in METRIC_NAMES}
        entry = self.registry.get(model, version) if self.registry is not None else None
        estimator = self.estimator(model, version) if binary and perf.cbpe else None
        reference = self._reference(entry, estimator)
        comp = compare_performance(
            realised,
            reference,
            abs_tolerance=perf.abs_tolerance,
            rel_tolerance=perf.rel_tolerance,
            count=cell.labeled,
            min_count=perf.min_labels,
        )
        status = comp.status if reference else "insufficient_data"
        if not comp.differences and status != "insufficient_data":
            status = "insufficient_data"  # nothing comparable
        estimated: dict[str, float] = {}
        std_errors: dict[str, float] = {}
        flags: dict[str, bool] = {}
        bounds: dict[str, float] = {}
        if estimator is not None:
            counts = cell.score_counts()
            if counts.sum() > 0:
                # The model's own decision (or the declared threshold), never an assumed one.
                res = estimator.estimate_histogram(
                    SCORE_EDGES, counts, predicted_positive=cell.called_positive_counts()
                )
                estimated = {m: res.estimates[m] for m in CBPE_METRICS}
                std_errors = {m: res.std_errors[m] for m in CBPE_METRICS}
            sh = cell.score_histograms()
            if sh.count > 0:
                on_labeled = estimator.estimate_histogram(
                    SCORE_EDGES,
                    sh.positive + sh.negative,
                    predicted_positive=cell.labeled_called_positive_counts(),
                )
                div = divergence(
                    on_labeled,
                    {m: realised[m] for m in CBPE_METRICS if m in realised},
                    k=perf.divergence_k,
                    floor=perf.divergence_floor,
                )
                bounds = dict(div.bounds)
                flags = {m: m in div.metrics for m in div.differences}
        return PerformanceEvaluation(
            model=model,
            version=version,
            environment=env,
            segment=segment,
            window_start=start,
            window_end=end,
            evaluated_at=now,
            kind="binary" if binary else kind,
            predictions=cell.predictions,
            labeled=cell.labeled,
            metrics=realised,
            baseline=reference,
            status=status,
            degraded=comp.degraded if status == "degraded" else (),
            estimated=estimated,
            estimated_std_errors=std_errors,
            divergence=flags,
            divergence_bounds=bounds,
            roc_auc_bound=cell.roc_auc_bound() if binary else math.nan,
        )

    @staticmethod
    def _reference(entry: Any, estimator: CBPEEstimator | None) -> dict[str, float]:
        ref: dict[str, float] = {}
        perf = entry.baseline.performance if entry is not None else None
        if perf:
            for k, v in perf.items():
                name = _ALIASES.get(k, k)
                if name in METRIC_NAMES and math.isfinite(v):
                    ref[name] = float(v)
        if not ref and estimator is not None:
            ref = {k: v for k, v in estimator.reference.items() if math.isfinite(v)}
        return ref

    def estimator(self, model: str, version: str) -> CBPEEstimator | None:
        """Return the CBPE estimator of the model version's baseline (fitted once, cached)."""
        entry = self.registry.get(model, version) if self.registry is not None else None
        if entry is None:
            return None
        rs = entry.baseline.reference_scores
        if not rs or not rs.get("scores"):
            return None
        key = (model, entry.baseline_version, int(getattr(self.registry, "generation", 0)))
        with self._lock:
            if key in self._estimators:
                return self._estimators[key]
        positive = self.config.performance.positive_label_of(model)
        labels = [_norm_label(v) for v in rs["labels"]]
        try:
            est: CBPEEstimator | None = CBPEEstimator.fit(
                rs["scores"],
                [lab == positive for lab in labels],
                threshold=self.config.performance.threshold,
                pos_label=True,
            )
        except ValueError:
            est = None  # one class only, or non-finite scores: no estimate
        with self._lock:
            self._estimators[key] = est
        return est


def _norm_label(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and math.isfinite(v) and v == int(v):
        return str(int(v))
    s = str(v)
    return {"true": "1", "false": "0"}.get(s.lower(), s)
