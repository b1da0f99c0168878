"""Score histograms of positive and negative rows: ROC AUC and PR AUC from mergeable counts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from otelml.stats._perf_common import FORMAT_VERSION, FloatArray, IntArray, check_format


def default_score_edges(bins: int = 1000) -> FloatArray:
    """Return ``bins + 1`` uniform edges 0, 1/bins, ..., 1 (exact 0 scores get their own bin)."""
    if bins < 1:
        raise ValueError(f"bins: must be >= 1, got {bins}")
    return np.linspace(0.0, 1.0, bins + 1)


def _check_edges(edges: ArrayLike) -> FloatArray:
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
        self.edges: FloatArray = _check_edges(default_score_edges() if edges is None else edges)
        k = self.edges.size + 1
        self.positive: IntArray = self._counts("positive", positive, k)
        self.negative: IntArray = self._counts("negative", negative, k)
        self.nan_count = int(nan_count)

    @staticmethod
    def _counts(name: str, values: ArrayLike | None, k: int) -> IntArray:
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
        check_format(d, cls.TYPE)
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
