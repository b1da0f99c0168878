"""Performance from joined actuals against scikit-learn, and CBPE against the realised values.

A seeded scenario: a calibrated binary classifier (its score is the true P(y=1 | x)) predicts
in six hourly windows; from window 3 on the covariate shifts towards the decision boundary, so
accuracy drops while P(y | x) stays the same; window 6 has concept drift (the labels follow
1 - P). Actuals arrive late (hours to days), in shuffled order, and a fifth never arrive.

- The realised metrics of each window equal scikit-learn's on that window's joined rows:
  accuracy, precision, recall, F1 exactly; log loss and Brier to 1e-12 (summation order);
  ROC AUC within the score-binning bound the cell reports (``ScoreHistograms.roc_auc_bound``).
- CBPE (tolerance stated here): within 0.03 of the realised accuracy and ROC AUC in every
  window without concept drift (at 4000 predictions a window, 3 standard errors are about
  0.02), no divergence flagged there, and flagged in the concept-drift window.
- The status is ``ok`` before the shift and ``degraded`` after it (accuracy more than 0.05
  below the baseline's).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from otelml.processor.evaluate.baselines import BaselineRegistry
from otelml.processor.evaluate.performance import PerformanceEvaluator
from otelml.processor.state.joins import Joins
from otelml.stats.baseline import Baseline

from .joindata import actual, chunks, config, open_joins, prediction

pytestmark = pytest.mark.slow

T0 = 1_700_000_000 - 1_700_000_000 % 3600  # an hour boundary
N = 4000
WINDOWS = 7
SHIFT_FROM, CONCEPT = 3, 6
CBPE_TOLERANCE = 0.03


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return out


def _window_data(rng: np.random.Generator, w: int) -> tuple[np.ndarray, np.ndarray]:
    spread = 2.0 if w < SHIFT_FROM else 0.6  # the shift: inputs crowd the boundary
    x = rng.normal(0.0, spread, N)
    p = _sigmoid(2.0 * x)
    y = (rng.uniform(size=N) < (1.0 - p if w == CONCEPT else p)).astype(int)
    return p, y


class Scenario:
    def __init__(self, tmp: Path) -> None:
        rng = np.random.default_rng(7)
        self.scores: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self.sent: list[np.ndarray] = []
        preds, acts = [], []
        for w in range(WINDOWS):
            p, y = _window_data(rng, w)
            self.scores.append(p)
            self.labels.append(y)
            t = T0 + w * 3600 + rng.uniform(0, 3599, N)
            sent = rng.uniform(size=N) < 0.8  # a fifth never get a label
            self.sent.append(sent)
            for i in range(N):
                preds.append(prediction(f"{w}-{i}", float(t[i]), value=float(p[i])))
                if sent[i]:
                    delay = float(rng.exponential(6 * 3600))
                    acts.append(
                        (
                            float(t[i]) + delay,
                            actual(f"{w}-{i}", float(t[i]) + delay, label=str(y[i])),
                        )
                    )
        order = rng.permutation(len(acts))  # out of order, beyond the delays' own order
        ref_x = rng.normal(0.0, 2.0, 20000)
        ref_p = _sigmoid(2.0 * ref_x)
        ref_y = (rng.uniform(size=ref_p.size) < ref_p).astype(int)
        self.baseline_accuracy = float(np.mean((ref_p > 0.5) == ref_y))
        self.end = T0 + WINDOWS * 3600 + 30 * 86400
        cfg = config(
            performance={"window_s": 3600, "retention_s": 90 * 86400, "min_labels": 100},
            joins={"horizon_s": 60 * 86400},
        )
        self.now = [float(self.end)]
        self.joins: Joins = open_joins(tmp / "otelml.db", cfg, clock=lambda: self.now[0])
        self.registry = BaselineRegistry(tmp / "otelml.db")
        self.registry.put(
            Baseline(
                "m",
                "1",
                {},
                reference_scores={"scores": ref_p[:5000].tolist(), "labels": ref_y[:5000].tolist()},
                performance={"accuracy": self.baseline_accuracy},
            )
        )
        # Predictions and actuals interleave: half the actuals come before the last predictions.
        half = len(order) // 2
        for batch in chunks(preds[: len(preds) // 2], 2000):
            self.joins.apply(batch)
        for batch in chunks([acts[k][1] for k in order[:half]], 2000):
            self.joins.apply(batch)
        for batch in chunks(preds[len(preds) // 2 :], 2000):
            self.joins.apply(batch)
        for batch in chunks([acts[k][1] for k in order[half:]], 2000):
            self.joins.apply(batch)
        self.evaluator = PerformanceEvaluator(
            self.joins, self.registry, cfg, clock=lambda: self.now[0]
        )

    def evaluation(self, w: int):  # type: ignore[no-untyped-def]
        self.now[0] = T0 + w * 3600 + 1800.0
        [ev] = [e for e in self.evaluator.evaluate() if e.segment == ""]
        return ev

    def close(self) -> None:
        self.joins.close()
        self.registry.close()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    s = Scenario(tmp_path_factory.mktemp("perf"))
    yield s
    s.close()


@pytest.mark.parametrize("w", range(WINDOWS))
def test_realised_metrics_equal_sklearn_on_the_joined_rows(scenario: Scenario, w: int) -> None:
    ev = scenario.evaluation(w)
    sent = scenario.sent[w]
    y, s = scenario.labels[w][sent], scenario.scores[w][sent]
    pred = (s > 0.5).astype(int)
    assert ev.predictions == N
    assert ev.labeled == int(sent.sum())
    assert ev.coverage == sent.sum() / N
    m = ev.metrics
    assert m["accuracy"] == accuracy_score(y, pred)
    assert m["precision"] == precision_score(y, pred)
    assert m["recall"] == recall_score(y, pred)
    assert m["f1"] == f1_score(y, pred)
    assert m["log_loss"] == pytest.approx(log_loss(y, s), rel=1e-12)
    assert m["brier"] == pytest.approx(brier_score_loss(y, s), rel=1e-12)
    bound = ev.roc_auc_bound
    assert 0 < bound < 0.01
    assert abs(m["roc_auc"] - roc_auc_score(y, s)) <= bound


def test_covariate_shift_lowers_accuracy_and_the_status_says_so(scenario: Scenario) -> None:
    before = [scenario.evaluation(w) for w in range(SHIFT_FROM)]
    after = [scenario.evaluation(w) for w in range(SHIFT_FROM, CONCEPT)]
    assert all(e.status == "ok" for e in before)
    assert all(e.status == "degraded" and "accuracy" in e.degraded for e in after)
    assert (
        min(e.metrics["accuracy"] for e in before) > max(e.metrics["accuracy"] for e in after) + 0.1
    )


@pytest.mark.parametrize("w", range(CONCEPT))
def test_cbpe_tracks_realised_performance_under_covariate_shift(scenario: Scenario, w: int) -> None:
    ev = scenario.evaluation(w)
    for metric in ("accuracy", "roc_auc"):
        assert abs(ev.estimated[metric] - ev.metrics[metric]) < CBPE_TOLERANCE, metric
    assert not any(ev.divergence.values()), ev.divergence_bounds


def test_concept_drift_is_flagged_as_divergence(scenario: Scenario) -> None:
    ev = scenario.evaluation(CONCEPT)
    assert ev.divergence["accuracy"]
    assert ev.divergence["roc_auc"]
    assert ev.metrics["accuracy"] < ev.estimated["accuracy"] - 0.3


def test_a_sub_minute_window_is_never_served_stale(tmp_path: Path) -> None:
    cfg = config(performance={"resolution_s": 10, "window_s": 10})
    t0 = 1_700_000_040.0  # a minute's start: both reads below fall in the same minute
    joins = open_joins(tmp_path / "j.db", cfg, clock=lambda: t0 + 5)
    try:
        joins.apply([prediction("p1", t0 + 1, value=0.8), actual("p1", t0 + 2, label="1")])
        evaluator = PerformanceEvaluator(joins, None, cfg, clock=lambda: t0 + 5)
        assert len(evaluator.evaluate(t0 + 5)) == 1  # the window [t0, t0 + 10) has it
        assert evaluator.evaluate(t0 + 15) == []  # the next 10 s window has nothing
    finally:
        joins.close()


def test_the_estimate_uses_the_models_own_decision(tmp_path: Path) -> None:
    """A model that says "1" above 0.3, not 0.5: the estimate must follow its labels."""
    rng = np.random.default_rng(11)
    ref_p = _sigmoid(2.0 * rng.normal(0.0, 2.0, 20000))
    ref_y = (rng.uniform(size=ref_p.size) < ref_p).astype(int)
    cfg = config(performance={"window_s": 3600, "min_labels": 10})
    now = T0 + 1800.0
    joins = open_joins(tmp_path / "o.db", cfg, clock=lambda: now)
    registry = BaselineRegistry(tmp_path / "o.db")
    try:
        registry.put(
            Baseline(
                "m",
                "1",
                {},
                reference_scores={"scores": ref_p[:5000].tolist(), "labels": ref_y[:5000].tolist()},
            )
        )
        p = _sigmoid(2.0 * rng.normal(0.0, 2.0, 3000))
        own = np.where(p > 0.3, "1", "0")
        events = [
            prediction(f"p{i}", T0 + i % 3000, value=float(p[i]), label=str(own[i]))
            for i in range(p.size)
        ]
        for batch in chunks(events, 1000):
            joins.apply(batch)
        evaluator = PerformanceEvaluator(joins, registry, cfg, clock=lambda: now)
        [ev] = [e for e in evaluator.evaluate() if e.segment == ""]
        estimator = evaluator.estimator("m", "1")
        assert estimator is not None
        offline = estimator.estimate(p, y_pred=(own == "1").astype(int))
        for metric in ("accuracy", "precision", "recall", "f1"):
            assert abs(ev.estimated[metric] - offline.estimates[metric]) < 0.01, metric
        by_threshold = estimator.estimate(p)  # what score > 0.5 would have said
        assert abs(by_threshold.estimates["recall"] - offline.estimates["recall"]) > 0.05
    finally:
        joins.close()
        registry.close()
