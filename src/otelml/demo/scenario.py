"""The demo's story: a model trained on real data, then traffic that goes wrong in phases.

Data: scikit-learn's bundled breast cancer dataset (569 tumours, 30 measurements, no
download), six of its measurements, and one synthetic categorical column, ``channel`` (how the
request arrived), which the model does not use. Traffic rows are drawn from the dataset with a
little jitter, so the stable columns of serving traffic follow the same distribution as the
reference the baseline is built from; whatever drifts, drifts because a phase made it.

Phases (cumulative, as incidents pile up when nobody fixes them):

1. normal traffic;
2. a mean shift: ``mean_texture`` moves up by 1.5 standard deviations (a recalibrated scanner);
3. a new category: ``channel`` starts receiving ``"partner_api"``, never seen in training;
4. a missing-value spike: 40 % of ``mean_smoothness`` arrive empty (the model imputes them);
5. a concept change: for tumours in the top third of ``worst_symmetry`` the ground truth
   flips. The inputs do not change, so feature drift stays quiet and the label-free (CBPE)
   estimate stays where it was; only the realised performance, once the delayed labels
   arrive, shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

MODEL = "breast-cancer"
VERSION = "1.0.0"

FEATURES: tuple[tuple[str, str], ...] = (
    ("mean_radius", "mean radius"),
    ("mean_texture", "mean texture"),
    ("mean_smoothness", "mean smoothness"),
    ("mean_concave_points", "mean concave points"),
    ("worst_area", "worst area"),
    ("worst_symmetry", "worst symmetry"),
)
"""(column name in the demo, column name in scikit-learn's dataset)."""
MODEL_FEATURES: tuple[str, ...] = tuple(name for name, _ in FEATURES)
CHANNELS: tuple[str, ...] = ("web", "mobile", "clinic")
CHANNEL_P: tuple[float, ...] = (0.5, 0.3, 0.2)

SHIFTED = "mean_texture"
NEW_CATEGORY_COLUMN = "channel"
NEW_CATEGORY = "partner_api"
MISSING_COLUMN = "mean_smoothness"
CONCEPT_COLUMN = "worst_symmetry"
SHIFT_STD = 1.5
NEW_CATEGORY_SHARE = 0.3
MISSING_SHARE = 0.4
JITTER = 0.1
"""Jitter of every drawn value, in standard deviations of its column."""


@dataclass(frozen=True)
class Phase:
    """One phase of the story: what changes from its start on."""

    key: str
    title: str
    detail: str


PHASES: tuple[Phase, ...] = (
    Phase("normal", "normal traffic", "serving traffic looks like the training data"),
    Phase(
        "mean_shift",
        "mean shift",
        f"{SHIFTED} shifts up by {SHIFT_STD:g} standard deviations",
    ),
    Phase(
        "new_category",
        "new category",
        f"{NEW_CATEGORY_COLUMN} receives {NEW_CATEGORY!r} ({NEW_CATEGORY_SHARE:.0%} of rows), "
        "never seen in training",
    ),
    Phase(
        "missing",
        "missing values",
        f"{MISSING_SHARE:.0%} of {MISSING_COLUMN} arrive empty",
    ),
    Phase(
        "concept",
        "concept change",
        f"the truth flips for the top third of {CONCEPT_COLUMN}; labels come late or never",
    ),
)
DRIFTED: tuple[str, ...] = (SHIFTED, NEW_CATEGORY_COLUMN)
"""Features whose distribution the phases change (the missing spike changes quality only)."""


class SklearnMissing(RuntimeError):
    """scikit-learn is not installed; the message says how to install it."""


def require_sklearn() -> None:
    """Raise :class:`SklearnMissing` unless scikit-learn can be imported."""
    import importlib.util

    # find_spec, not import: importing scikit-learn takes seconds, and the demo wants to
    # say what it is doing first.
    if importlib.util.find_spec("sklearn") is None:
        raise SklearnMissing(
            "the demo trains a scikit-learn model on scikit-learn's bundled data; install it "
            "with: pip install 'otelml[demo]' (or: pip install scikit-learn)"
        )


class Scenario:
    """The data source, the model and the phase effects of one demo run (seeded)."""

    def __init__(self, seed: int = 0) -> None:
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        names = list(data.feature_names)
        idx = [names.index(src) for _, src in FEATURES]
        self.X: np.ndarray = np.asarray(data.data[:, idx], dtype=np.float64)
        # Malignant is the class to catch: positive = 1 (scikit-learn codes it 0).
        self.y: np.ndarray = (data.target == 0).astype(np.int64)
        self.std: np.ndarray = self.X.std(axis=0)
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        col = MODEL_FEATURES.index(CONCEPT_COLUMN)
        self.concept_cut = float(np.quantile(self.X[:, col], 2 / 3))
        self.model: Any = None
        self.importances: dict[str, float] = {}
        self.holdout_accuracy = float("nan")

    @property
    def rows(self) -> int:
        """Return the number of rows in the dataset."""
        return len(self.y)

    def train(self) -> None:
        """Fit the model (impute, scale, logistic regression) on a 70 % split."""
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X_tr, X_te, y_tr, y_te = train_test_split(
            self.X, self.y, test_size=0.3, random_state=self.seed, stratify=self.y
        )
        self.model = make_pipeline(
            SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=1000)
        )
        self.model.fit(X_tr, y_tr)
        self.holdout_accuracy = float(self.model.score(X_te, y_te))
        # Standardised inputs: |coefficient| is the effect of one standard deviation.
        coef = np.abs(self.model[-1].coef_[0])
        self.importances = {
            name: round(float(c / coef.sum()), 4)
            for name, c in zip(MODEL_FEATURES, coef, strict=True)
        }
        self.importances[NEW_CATEGORY_COLUMN] = 0.0  # not an input of the model

    def draw(self, n: int, phase: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Return ``n`` rows as columns (with ``request_id``) and their true labels."""
        rng = self.rng
        pick = rng.integers(0, self.rows, n)
        X = self.X[pick] + rng.normal(0.0, JITTER, (n, self.X.shape[1])) * self.std
        X = np.maximum(X, 0.0)  # every measurement is non-negative
        y = self.y[pick].copy()
        cols: dict[str, np.ndarray] = {}
        if phase >= 1:
            X[:, MODEL_FEATURES.index(SHIFTED)] += (
                SHIFT_STD * self.std[MODEL_FEATURES.index(SHIFTED)]
            )
        if phase >= 4:
            flip = X[:, MODEL_FEATURES.index(CONCEPT_COLUMN)] > self.concept_cut
            y[flip] = 1 - y[flip]
        for j, name in enumerate(MODEL_FEATURES):
            cols[name] = X[:, j]
        if phase >= 3:
            col = cols[MISSING_COLUMN].astype(object)
            col[rng.random(n) < MISSING_SHARE] = None
            cols[MISSING_COLUMN] = col
        channel = rng.choice(np.asarray(CHANNELS, dtype=object), size=n, p=CHANNEL_P)
        if phase >= 2:
            channel[rng.random(n) < NEW_CATEGORY_SHARE] = NEW_CATEGORY
        cols[NEW_CATEGORY_COLUMN] = channel
        return cols, y

    def predict_proba(self, cols: dict[str, np.ndarray]) -> np.ndarray:
        """Return the model's ``n x 2`` class probabilities for columns from :meth:`draw`."""
        X = np.column_stack([np.asarray(cols[f], dtype=np.float64) for f in MODEL_FEATURES])
        proba: np.ndarray = self.model.predict_proba(X)
        return proba

    def baseline(self, rows: int = 5000, reference_scores: int = 2000) -> Any:
        """Return the baseline of normal traffic: features, scores, labels, importances, CBPE data.

        Built from ``rows`` rows drawn like phase-1 traffic and scored by the model;
        ``reference_scores`` of them keep their score and label for the label-free
        performance estimate.
        """
        from sklearn.metrics import roc_auc_score

        from otelml.baselines import build_baseline

        cols, y = self.draw(rows, 0)
        scores = self.predict_proba(cols)[:, 1]
        table = {**cols, "score": scores, "label": y}
        pred = (scores > 0.5).astype(np.int64)
        accuracy = float(np.mean(pred == y))
        baseline = build_baseline(
            table,
            model=MODEL,
            version=VERSION,
            categorical=[NEW_CATEGORY_COLUMN],
            prediction="score",
            label="label",
            importances=self.importances,
            performance={"accuracy": accuracy, "roc_auc": float(roc_auc_score(y, scores))},
            seed=self.seed,
        )
        k = min(reference_scores, rows)
        return replace(
            baseline,
            reference_scores={
                "scores": [round(float(s), 6) for s in scores[:k]],
                "labels": [int(v) for v in y[:k]],
            },
        )
