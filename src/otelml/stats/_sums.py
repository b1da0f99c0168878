"""Mergeable sums behind log loss and Brier score, and behind MAE, MSE, MAPE and R²."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from otelml.stats._perf_common import FORMAT_VERSION, check_format


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
        check_format(d, cls.TYPE)
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
        check_format(d, cls.TYPE)
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
