"""Mergeable model-performance state: confusion counts, score histograms, loss and error sums.

Every class here follows the sketch conventions of ``otelml.stats``: ``update`` /
``update_many``, ``merge`` (also ``+``; returns a new object and never mutates either input),
``copy``, an empty default state, ``to_dict`` / ``from_dict`` (keys ``"format"`` and
``"type"``), ``__eq__`` and ``count``. Metrics are derived from the state on demand, so the
processor can keep one state per window and per replica and sum them.

Reference behaviour is scikit-learn's on the same rows:

- count-based metrics (:class:`ConfusionCounts`) are bit-for-bit equal;
- sum-based metrics (:class:`ProbabilisticSums`, :class:`RegressionSums`) are equal up to
  floating-point summation order (relative error ~1e-15 per merge);
- ranking metrics (:class:`ScoreHistograms`) are exact for the binned scores and within
  :meth:`ScoreHistograms.roc_auc_bound` of the raw-score ROC AUC.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ConfusionCounts",
    "PerformanceComparison",
    "ProbabilisticSums",
    "RegressionSums",
    "ScoreHistograms",
    "compare_performance",
    "performance_metrics",
]

FORMAT_VERSION = 1
Label = str | int

_FloatArray = NDArray[np.float64]
_IntArray = NDArray[np.int64]


def _as_label(value: Any) -> Label:
    """Return a JSON-able Python label (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (str, int)):
        return value
    raise TypeError(f"labels must be str or int, got {type(value).__name__}")


def _check_format(d: Mapping[str, Any], type_name: str) -> None:
    if d.get("type") != type_name:
        raise ValueError(f"d: expected type {type_name!r}, got {d.get('type')!r}")
    if d.get("format") != FORMAT_VERSION:
        raise ValueError(f"d: unsupported format {d.get('format')!r} (expected {FORMAT_VERSION})")


# --------------------------------------------------------------------------- confusion counts


class ConfusionCounts:
    """Multiclass confusion matrix over a growable label set; precision/recall/F1 like sklearn.

    Rows are true labels, columns predicted labels, in ``labels`` order. Labels unseen so far
    are appended when they appear. Merging two states takes the union of their label sets
    (this state's order first, then the other's new labels in its order); equality ignores
    label order. A label with no rows still counts in macro averages, exactly as when it is
    passed in sklearn's ``labels=``.

    ``zero_division`` (0.0, 1.0 or nan) replaces a ratio whose denominator is zero, as
    sklearn's argument of that name does (sklearn's default ``"warn"`` gives 0.0 and a warning;
    we give 0.0 without one). NaN per-class values are left out of averages, as sklearn does.
    """

    TYPE = "confusion_counts"

    def __init__(self, labels: Iterable[Any] = ()) -> None:
        self._labels: list[Label] = []
        self._index: dict[Label, int] = {}
        self.matrix: _IntArray = np.zeros((0, 0), dtype=np.int64)
        self._grow([_as_label(v) for v in labels])

    @property
    def labels(self) -> tuple[Label, ...]:
        """The label set, in matrix order."""
        return tuple(self._labels)

    @property
    def count(self) -> int:
        """Number of (true, predicted) pairs counted."""
        return int(self.matrix.sum())

    def _grow(self, new: Iterable[Label]) -> None:
        added = [lab for lab in dict.fromkeys(new) if lab not in self._index]
        if not added:
            return
        for lab in added:
            self._index[lab] = len(self._labels)
            self._labels.append(lab)
        k = len(self._labels)
        grown = np.zeros((k, k), dtype=np.int64)
        old = self.matrix.shape[0]
        grown[:old, :old] = self.matrix
        self.matrix = grown

    def update(self, y_true: Any, y_pred: Any) -> None:
        """Count one (true, predicted) pair."""
        t, p = _as_label(y_true), _as_label(y_pred)
        self._grow((t, p))
        self.matrix[self._index[t], self._index[p]] += 1

    def update_many(self, y_true: ArrayLike, y_pred: ArrayLike) -> None:
        """Count pairs from two equally long 1-D arrays of labels."""
        t = np.asarray(y_true).ravel()
        p = np.asarray(y_pred).ravel()
        if t.shape != p.shape:
            raise ValueError(f"y_pred: length {p.size} differs from y_true's {t.size}")
        if t.size == 0:
            return
        uniq, inv = np.unique(np.concatenate([t, p]), return_inverse=True)
        labels = [_as_label(u) for u in uniq]
        self._grow(labels)
        codes = np.array([self._index[lab] for lab in labels], dtype=np.int64)[inv.ravel()]
        k = len(self._labels)
        flat = codes[: t.size] * k + codes[t.size :]
        self.matrix += np.bincount(flat, minlength=k * k).reshape(k, k)

    def merge(self, other: ConfusionCounts) -> ConfusionCounts:
        """Return the sum of two states over the union of their label sets."""
        out = self.copy()
        out._grow(other._labels)
        idx = np.array([out._index[lab] for lab in other._labels], dtype=np.int64)
        out.matrix[np.ix_(idx, idx)] += other.matrix
        return out

    __add__ = merge

    def copy(self) -> ConfusionCounts:
        """Return an independent copy."""
        out = ConfusionCounts(self._labels)
        out.matrix = self.matrix.copy()
        return out

    def _canonical(self) -> dict[tuple[Label, Label], int]:
        nz = np.nonzero(self.matrix)
        return {
            (self._labels[i], self._labels[j]): int(self.matrix[i, j])
            for i, j in zip(nz[0].tolist(), nz[1].tolist(), strict=True)
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConfusionCounts):
            return NotImplemented
        return set(self._labels) == set(other._labels) and self._canonical() == other._canonical()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ConfusionCounts(labels={self.labels!r}, count={self.count})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (``format``, ``type``, ``labels``, ``matrix``)."""
        return {
            "format": FORMAT_VERSION,
            "type": self.TYPE,
            "labels": list(self._labels),
            "matrix": self.matrix.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConfusionCounts:
        """Rebuild a state written by :meth:`to_dict`."""
        _check_format(d, cls.TYPE)
        out = cls(d["labels"])
        k = len(out._labels)
        matrix = np.asarray(d["matrix"], dtype=np.int64).reshape(k, k)
        if (matrix < 0).any():
            raise ValueError("d: matrix has negative counts")
        out.matrix = matrix
        return out

    # ---- metrics (same arithmetic as sklearn.metrics.precision_recall_fscore_support)

    def accuracy(self) -> float:
        """Share of rows whose prediction equals the truth (nan when empty)."""
        n = self.count
        return float(np.trace(self.matrix)) / n if n else math.nan

    def _sums(self) -> tuple[_IntArray, _IntArray, _IntArray]:
        tp = np.diagonal(self.matrix).copy()
        return tp, self.matrix.sum(axis=0), self.matrix.sum(axis=1)

    @staticmethod
    def _divide(num: ArrayLike, den: ArrayLike, zero_division: float) -> _FloatArray:
        den_f = np.asarray(den, dtype=np.float64).copy()
        mask = den_f == 0
        den_f[mask] = 1.0
        out: _FloatArray = np.asarray(num, dtype=np.float64) / den_f
        out[mask] = zero_division
        return out

    def per_class(self, zero_division: float = 0.0) -> dict[str, _FloatArray]:
        """Per-label ``precision``, ``recall``, ``f1``, ``support`` arrays in ``labels`` order."""
        tp, pred_sum, true_sum = self._sums()
        return self._prf(tp, pred_sum, true_sum, zero_division) | {
            "support": true_sum.astype(np.float64)
        }

    def _prf(
        self, tp: _IntArray, pred_sum: _IntArray, true_sum: _IntArray, zero_division: float
    ) -> dict[str, _FloatArray]:
        precision = self._divide(tp, pred_sum, zero_division)
        recall = self._divide(tp, true_sum, zero_division)
        denom = 1.0 * true_sum.astype(np.float64) + pred_sum.astype(np.float64)
        f1 = self._divide(2.0 * tp.astype(np.float64), denom, zero_division)
        return {"precision": precision, "recall": recall, "f1": f1}

    def averaged(self, average: str, zero_division: float = 0.0) -> dict[str, float]:
        """Precision, recall and F1 averaged ``"macro"``, ``"micro"`` or ``"weighted"``."""
        tp, pred_sum, true_sum = self._sums()
        if average == "micro":
            prf = self._prf(
                tp.sum(keepdims=True),
                pred_sum.sum(keepdims=True),
                true_sum.sum(keepdims=True),
                zero_division,
            )
            return {name: _nanaverage(v, None) for name, v in prf.items()}
        if average not in ("macro", "weighted"):
            raise ValueError(f"average: expected macro, micro or weighted, got {average!r}")
        weights = true_sum if average == "weighted" else None
        prf = self._prf(tp, pred_sum, true_sum, zero_division)
        return {name: _nanaverage(v, weights) for name, v in prf.items()}

    def binary(self, positive: Any, zero_division: float = 0.0) -> dict[str, float]:
        """Precision, recall and F1 of one positive label (sklearn ``average="binary"``)."""
        lab = _as_label(positive)
        state = self if lab in self._index else self.merge(ConfusionCounts([lab]))
        pc = state.per_class(zero_division)
        i = state._index[lab]
        return {name: float(pc[name][i]) for name in ("precision", "recall", "f1")}

    def metrics(self, positive: Any = None, zero_division: float = 0.0) -> dict[str, float]:
        """Named metrics: accuracy and every average (and binary ones given ``positive``)."""
        out = {"accuracy": self.accuracy()}
        for avg in ("macro", "micro", "weighted"):
            for name, v in self.averaged(avg, zero_division).items():
                out[f"{name}_{avg}"] = v
        if positive is not None:
            out.update(self.binary(positive, zero_division))
        return out


def _nanaverage(values: _FloatArray, weights: _IntArray | None) -> float:
    """Average ignoring NaN, as sklearn's ``_nanaverage`` (same numpy calls, same rounding)."""
    if values.shape[0] == 0:
        return math.nan
    mask = np.isnan(values)
    if mask.all():
        return math.nan
    if weights is None:
        return float(np.nanmean(values))
    w = weights[~mask]
    if w.sum() == 0:
        return float(np.average(values[~mask]))
    return float(np.average(values[~mask], weights=w))


# --------------------------------------------------------------------------- score histograms


def default_score_edges(bins: int = 1000) -> _FloatArray:
    """Return ``bins + 1`` uniform edges 0, 1/bins, ..., 1 (exact 0 scores get their own bin)."""
    if bins < 1:
        raise ValueError(f"bins: must be >= 1, got {bins}")
    return np.linspace(0.0, 1.0, bins + 1)


def _check_edges(edges: ArrayLike) -> _FloatArray:
    e = np.asarray(edges, dtype=np.float64).ravel()
    if e.size == 0 or not np.isfinite(e).all() or (np.diff(e) <= 0).any():
        raise ValueError("edges: must be a non-empty, strictly increasing, finite array")
    return e


class ScoreHistograms:
    """Score histograms of positive and negative rows on fixed edges; ROC AUC and PR AUC.

    Bins follow the upper-inclusive ``otelml.stats`` convention: ``len(edges) + 1`` bins,
    ``np.searchsorted(edges, score, side="left")`` is a score's bin. NaN scores are counted in
    ``nan_count`` and left out; ±inf fall in the outer bins.

    Binning error: the ROC AUC computed here is the exact Mann-Whitney AUC of the *binned*
    scores (pairs in one bin count one half). It differs from the raw-score AUC by at most
    :meth:`roc_auc_bound` = half the share of positive-negative pairs that share a bin, since
    only those pairs can be ordered differently and each moves the AUC by at most 1/2 pair.
    When every bin holds at most one distinct score (e.g. scores taking values on the edges),
    the two are equal.
    """

    TYPE = "score_histograms"

    def __init__(
        self,
        edges: ArrayLike | None = None,
        positive: ArrayLike | None = None,
        negative: ArrayLike | None = None,
        nan_count: int = 0,
    ) -> None:
        self.edges: _FloatArray = _check_edges(default_score_edges() if edges is None else edges)
        k = self.edges.size + 1
        self.positive: _IntArray = self._counts("positive", positive, k)
        self.negative: _IntArray = self._counts("negative", negative, k)
        self.nan_count = int(nan_count)

    @staticmethod
    def _counts(name: str, values: ArrayLike | None, k: int) -> _IntArray:
        arr = np.zeros(k, np.int64) if values is None else np.array(values, dtype=np.int64)
        if arr.shape != (k,) or (arr < 0).any():
            raise ValueError(f"{name}: expected {k} non-negative counts")
        return arr

    @classmethod
    def uniform(cls, bins: int = 1000) -> ScoreHistograms:
        """Return an empty state on ``bins`` uniform bins over [0, 1]."""
        return cls(default_score_edges(bins))

    @property
    def count(self) -> int:
        """Number of binned (non-NaN) rows."""
        return int(self.positive.sum() + self.negative.sum())

    def update(self, y_true: Any, score: float, pos_label: Any = 1) -> None:
        """Count one labelled score."""
        self.update_many([y_true], [score], pos_label=pos_label)

    def update_many(self, y_true: ArrayLike, scores: ArrayLike, pos_label: Any = 1) -> None:
        """Count labelled scores; a row is positive when ``y_true == pos_label``."""
        y = np.asarray(y_true).ravel()
        s = np.asarray(scores, dtype=np.float64).ravel()
        if y.shape != s.shape:
            raise ValueError(f"scores: length {s.size} differs from y_true's {y.size}")
        nan = np.isnan(s)
        self.nan_count += int(nan.sum())
        pos = (y == pos_label)[~nan]
        idx = np.searchsorted(self.edges, s[~nan], side="left")
        k = self.edges.size + 1
        self.positive += np.bincount(idx[pos], minlength=k)
        self.negative += np.bincount(idx[~pos], minlength=k)

    def merge(self, other: ScoreHistograms) -> ScoreHistograms:
        """Return the sum of two states on identical edges (ValueError otherwise)."""
        if not np.array_equal(self.edges, other.edges):
            raise ValueError("other: edges differ; score histograms merge only on identical edges")
        return ScoreHistograms(
            self.edges,
            self.positive + other.positive,
            self.negative + other.negative,
            self.nan_count + other.nan_count,
        )

    __add__ = merge

    def copy(self) -> ScoreHistograms:
        """Return an independent copy."""
        return ScoreHistograms(self.edges, self.positive, self.negative, self.nan_count)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScoreHistograms):
            return NotImplemented
        return (
            np.array_equal(self.edges, other.edges)
            and np.array_equal(self.positive, other.positive)
            and np.array_equal(self.negative, other.negative)
            and self.nan_count == other.nan_count
        )

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "format": FORMAT_VERSION,
            "type": self.TYPE,
            "edges": self.edges.tolist(),
            "positive": self.positive.tolist(),
            "negative": self.negative.tolist(),
            "nan_count": self.nan_count,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ScoreHistograms:
        """Rebuild a state written by :meth:`to_dict`."""
        _check_format(d, cls.TYPE)
        return cls(d["edges"], d["positive"], d["negative"], int(d["nan_count"]))

    def roc_auc(self) -> float:
        """ROC AUC of the binned scores (nan without both classes)."""
        p = self.positive.astype(np.float64)
        n = self.negative.astype(np.float64)
        n_pos, n_neg = p.sum(), n.sum()
        if n_pos == 0 or n_neg == 0:
            return math.nan
        below = np.cumsum(n) - n
        return float(np.dot(p, below + 0.5 * n) / (n_pos * n_neg))

    def roc_auc_bound(self) -> float:
        """Largest possible |binned AUC - raw-score AUC|: half the share of pairs sharing a bin."""
        n_pos, n_neg = float(self.positive.sum()), float(self.negative.sum())
        if n_pos == 0 or n_neg == 0:
            return math.nan
        shared = float(np.dot(self.positive.astype(np.float64), self.negative.astype(np.float64)))
        return 0.5 * shared / (n_pos * n_neg)

    def average_precision(self) -> float:
        """Average precision (PR AUC, sklearn's step sum) of the binned scores (nan if no positive).

        Bins act as thresholds from the highest down; tied scores within a bin share one
        threshold, as sklearn treats tied scores. No bound against the raw-score value is
        claimed: ties can move AP either way; see docs/performance.md for measured gaps.
        """
        p = self.positive[::-1].astype(np.float64)
        n = self.negative[::-1].astype(np.float64)
        n_pos = p.sum()
        if n_pos == 0:
            return math.nan
        tp, fp = np.cumsum(p), np.cumsum(n)
        used = p > 0
        return float(np.sum(p[used] / n_pos * (tp[used] / (tp[used] + fp[used]))))

    def metrics(self) -> dict[str, float]:
        """Named metrics: ``roc_auc``, ``roc_auc_bound``, ``average_precision``."""
        return {
            "roc_auc": self.roc_auc(),
            "roc_auc_bound": self.roc_auc_bound(),
            "average_precision": self.average_precision(),
        }


# --------------------------------------------------------------------------- probabilistic sums


@dataclass(eq=False)
class ProbabilisticSums:
    """Sums behind log loss and Brier score, binary or multiclass; sklearn's definitions.

    Binary: ``update_many(y_true, p)`` with ``p`` the probability of ``pos_label``.
    Multiclass: ``update_many(y_true, P)`` with ``P`` of shape (n, n_classes) and ``y_true``
    the integer column of each row's true class. Probabilities must lie in [0, 1].

    Log loss clips every probability to [eps, 1 - eps] with eps = ``np.finfo(float64).eps``
    (2.2e-16, sklearn's choice), so one confident mistake costs at most -log(eps) = 36.04.
    The binary case clips p and 1 - p separately, as sklearn does on its two columns.
    Brier: the per-row squared distance to the one-hot truth summed over classes, halved for
    two classes (sklearn's ``scale_by_half="auto"``), so the binary value is mean (y - p)^2.
    """

    TYPE = "probabilistic_sums"

    n_classes: int = 2
    count: int = 0
    log_loss_sum: float = 0.0
    brier_sum: float = 0.0

    def __post_init__(self) -> None:
        if self.n_classes < 2:
            raise ValueError(f"n_classes: must be >= 2, got {self.n_classes}")

    def update(self, y_true: Any, proba: ArrayLike, pos_label: Any = 1) -> None:
        """Count one row."""
        p = np.asarray(proba, dtype=np.float64)
        self.update_many([y_true], p[None, ...] if p.ndim == 1 else [p], pos_label=pos_label)

    def update_many(self, y_true: ArrayLike, proba: ArrayLike, pos_label: Any = 1) -> None:
        """Add rows: ``proba`` 1-D (binary, P(pos_label)) or (n, n_classes)."""
        p = np.asarray(proba, dtype=np.float64)
        y = np.asarray(y_true).ravel()
        if p.ndim == 1:
            if self.n_classes != 2:
                raise ValueError("proba: 1-D probabilities need n_classes=2")
            p = np.column_stack([1.0 - p, p])
            onehot = np.column_stack([y != pos_label, y == pos_label]).astype(np.float64)
        elif p.ndim == 2 and p.shape[1] == self.n_classes:
            codes = y.astype(np.int64)
            if codes.size and (codes.min() < 0 or codes.max() >= self.n_classes):
                raise ValueError(f"y_true: class indices must lie in [0, {self.n_classes})")
            onehot = np.zeros_like(p)
            onehot[np.arange(codes.size), codes] = 1.0
        else:
            raise ValueError(f"proba: expected shape (n,) or (n, {self.n_classes}), got {p.shape}")
        if p.shape[0] != y.size:
            raise ValueError(f"proba: {p.shape[0]} rows but y_true has {y.size}")
        if p.size and (np.isnan(p).any() or p.min() < 0.0 or p.max() > 1.0):
            raise ValueError("proba: probabilities must lie in [0, 1]")
        eps = np.finfo(np.float64).eps
        clipped = np.clip(p, eps, 1.0 - eps)
        self.log_loss_sum += float(np.sum(-np.sum(onehot * np.log(clipped), axis=1)))
        self.brier_sum += float(np.sum(np.sum((onehot - p) ** 2, axis=1)))
        self.count += int(y.size)

    def merge(self, other: ProbabilisticSums) -> ProbabilisticSums:
        """Return the sum of two states with the same number of classes."""
        if other.n_classes != self.n_classes:
            raise ValueError("other: n_classes differ")
        return ProbabilisticSums(
            self.n_classes,
            self.count + other.count,
            self.log_loss_sum + other.log_loss_sum,
            self.brier_sum + other.brier_sum,
        )

    __add__ = merge

    def copy(self) -> ProbabilisticSums:
        """Return an independent copy."""
        return ProbabilisticSums(self.n_classes, self.count, self.log_loss_sum, self.brier_sum)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProbabilisticSums):
            return NotImplemented
        return (self.n_classes, self.count, self.log_loss_sum, self.brier_sum) == (
            other.n_classes,
            other.count,
            other.log_loss_sum,
            other.brier_sum,
        )

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "format": FORMAT_VERSION,
            "type": self.TYPE,
            "n_classes": self.n_classes,
            "count": self.count,
            "log_loss_sum": self.log_loss_sum,
            "brier_sum": self.brier_sum,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProbabilisticSums:
        """Rebuild a state written by :meth:`to_dict`."""
        _check_format(d, cls.TYPE)
        return cls(
            int(d["n_classes"]), int(d["count"]), float(d["log_loss_sum"]), float(d["brier_sum"])
        )

    def log_loss(self) -> float:
        """Mean log loss (nan when empty)."""
        return self.log_loss_sum / self.count if self.count else math.nan

    def brier(self) -> float:
        """Brier score, sklearn's scaling (nan when empty)."""
        if not self.count:
            return math.nan
        scale = 0.5 if self.n_classes == 2 else 1.0
        return scale * (self.brier_sum / self.count)

    def metrics(self) -> dict[str, float]:
        """Named metrics: ``log_loss``, ``brier``."""
        return {"log_loss": self.log_loss(), "brier": self.brier()}


# --------------------------------------------------------------------------- regression sums


@dataclass(eq=False)
class RegressionSums:
    """Sums behind MAE, MSE/RMSE, MAPE and R²; sklearn's definitions, mergeable.

    MAPE divides by ``max(|y|, eps)`` with eps = ``np.finfo(float64).eps``, as sklearn does: a
    row with y = 0 and a non-zero error contributes about |error| / 2.2e-16, so MAPE explodes
    rather than silently skipping it. Use MAE when y can be 0.

    R² needs the spread of y about its mean. A raw sum of y² loses every digit when the mean
    is large against the spread, so y's mean and sum of squared deviations (``y_m2``) are kept
    and merged with the parallel update of Chan, Golub and LeVeque (1979), the same as
    ``otelml.stats.Moments``. R² follows sklearn's ``force_finite``: 1.0 for constant y
    predicted perfectly, 0.0 for constant y otherwise.
    """

    TYPE = "regression_sums"

    count: int = 0
    abs_error_sum: float = 0.0
    sq_error_sum: float = 0.0
    ape_sum: float = 0.0
    y_mean: float = 0.0
    y_m2: float = 0.0

    def update(self, y_true: float, y_pred: float) -> None:
        """Count one row."""
        self.update_many([y_true], [y_pred])

    def update_many(self, y_true: ArrayLike, y_pred: ArrayLike) -> None:
        """Add rows of true and predicted values."""
        y = np.asarray(y_true, dtype=np.float64).ravel()
        f = np.asarray(y_pred, dtype=np.float64).ravel()
        if y.shape != f.shape:
            raise ValueError(f"y_pred: length {f.size} differs from y_true's {y.size}")
        if y.size == 0:
            return
        if not (np.isfinite(y).all() and np.isfinite(f).all()):
            raise ValueError("y_true, y_pred: values must be finite")
        err = np.abs(f - y)
        batch = RegressionSums(
            int(y.size),
            float(np.sum(err)),
            float(np.sum((y - f) ** 2)),
            float(np.sum(err / np.maximum(np.abs(y), np.finfo(np.float64).eps))),
            float(np.mean(y)),
            float(np.sum((y - np.mean(y)) ** 2)),
        )
        merged = self.merge(batch)
        self.__dict__.update(merged.__dict__)

    def merge(self, other: RegressionSums) -> RegressionSums:
        """Return the sum of two states (Chan et al. for y's mean and spread)."""
        n = self.count + other.count
        if n == 0:
            return RegressionSums()
        delta = other.y_mean - self.y_mean
        mean = self.y_mean + delta * (other.count / n)
        m2 = self.y_m2 + other.y_m2 + delta * delta * (self.count * other.count / n)
        return RegressionSums(
            n,
            self.abs_error_sum + other.abs_error_sum,
            self.sq_error_sum + other.sq_error_sum,
            self.ape_sum + other.ape_sum,
            mean,
            m2,
        )

    __add__ = merge

    def copy(self) -> RegressionSums:
        """Return an independent copy."""
        return RegressionSums(**self.__dict__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegressionSums):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"format": FORMAT_VERSION, "type": self.TYPE, **self.__dict__}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RegressionSums:
        """Rebuild a state written by :meth:`to_dict`."""
        _check_format(d, cls.TYPE)
        return cls(
            int(d["count"]),
            *(float(d[k]) for k in ("abs_error_sum", "sq_error_sum", "ape_sum", "y_mean", "y_m2")),
        )

    def metrics(self) -> dict[str, float]:
        """Named metrics: ``mae``, ``mse``, ``rmse``, ``mape``, ``r2`` (nan when empty)."""
        n = self.count
        if n == 0:
            return dict.fromkeys(("mae", "mse", "rmse", "mape", "r2"), math.nan)
        mse = self.sq_error_sum / n
        if self.y_m2 != 0.0:
            r2 = 1.0 - self.sq_error_sum / self.y_m2
        else:
            r2 = 1.0 if self.sq_error_sum == 0.0 else 0.0
        return {
            "mae": self.abs_error_sum / n,
            "mse": mse,
            "rmse": math.sqrt(mse),
            "mape": self.ape_sum / n,
            "r2": r2,
        }


# --------------------------------------------------------------------------- facade


_State = ConfusionCounts | ScoreHistograms | ProbabilisticSums | RegressionSums

#: Metrics where a lower value is better; every other named metric is higher-is-better.
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "mae", "mse", "rmse", "mape"})
#: Bounded metrics in [0, 1] compared by absolute difference; others by relative difference.
BOUNDED = frozenset(
    {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "average_precision",
        "brier",
        *(
            f"{m}_{a}"
            for m in ("precision", "recall", "f1")
            for a in ("macro", "micro", "weighted")
        ),
    }
)
#: Default tolerance: a bounded metric may be 0.05 worse (absolute); an error metric 10% worse.
DEFAULT_ABS_TOLERANCE = 0.05
DEFAULT_REL_TOLERANCE = 0.10


def performance_metrics(*states: _State, positive: Any = None) -> dict[str, float]:
    """Return one dict of named metrics from any mix of performance states.

    ``positive`` adds the binary ``precision`` / ``recall`` / ``f1`` of that label from a
    :class:`ConfusionCounts`. ``roc_auc_bound`` is informative and never compared.
    """
    out: dict[str, float] = {}
    for s in states:
        if isinstance(s, ConfusionCounts):
            out.update(s.metrics(positive=positive))
        elif isinstance(s, (ScoreHistograms, ProbabilisticSums, RegressionSums)):
            out.update(s.metrics())
        else:
            raise TypeError(f"states: unsupported {type(s).__name__}")
    return out


@dataclass(frozen=True)
class PerformanceComparison:
    """Current vs reference performance: overall ``status`` and per-metric details."""

    status: str
    degraded: tuple[str, ...]
    differences: Mapping[str, float]
    statuses: Mapping[str, str]


def compare_performance(
    current: Mapping[str, float],
    reference: Mapping[str, float],
    *,
    abs_tolerance: float = DEFAULT_ABS_TOLERANCE,
    rel_tolerance: float = DEFAULT_REL_TOLERANCE,
    tolerances: Mapping[str, float] | None = None,
    count: int | None = None,
    min_count: int = 0,
) -> PerformanceComparison:
    """Return ``"ok"`` or ``"degraded"`` (or ``"insufficient_data"``) against a reference.

    A metric is degraded when it is worse than the reference by more than its tolerance:
    bounded [0, 1] metrics by an absolute ``abs_tolerance`` (default 0.05, e.g. accuracy
    0.91 -> 0.85), error metrics (MAE, RMSE, MAPE, log loss) by ``rel_tolerance`` of the
    reference (default 10%); R² by ``abs_tolerance``. ``tolerances`` overrides per metric.
    Only metrics present and finite in both are compared; ``differences`` is current minus
    reference. With ``count < min_count`` the status is ``"insufficient_data"``.
    """
    differences: dict[str, float] = {}
    statuses: dict[str, str] = {}
    for name in sorted(set(current) & set(reference)):
        cur, ref = float(current[name]), float(reference[name])
        if name == "roc_auc_bound" or not (math.isfinite(cur) and math.isfinite(ref)):
            continue
        diff = cur - ref
        worse = diff if name in LOWER_IS_BETTER else -diff
        if tolerances is not None and name in tolerances:
            tol = float(tolerances[name])
        elif name in LOWER_IS_BETTER and name not in BOUNDED:
            tol = rel_tolerance * abs(ref)
        else:
            tol = abs_tolerance
        differences[name] = diff
        statuses[name] = "degraded" if worse > tol else "ok"
    degraded = tuple(n for n, s in statuses.items() if s == "degraded")
    if count is not None and count < min_count:
        status = "insufficient_data"
    else:
        status = "degraded" if degraded else "ok"
    return PerformanceComparison(status, degraded, differences, statuses)
