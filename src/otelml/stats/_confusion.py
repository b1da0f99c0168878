"""Mergeable confusion counts over any labels; sklearn's count-based metrics, bit for bit."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from otelml.stats._perf_common import FORMAT_VERSION, FloatArray, IntArray, check_format

Label = str | int


def _as_label(value: Any) -> Label:
    """Return a JSON-able Python label (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (str, int)):
        return value
    raise TypeError(f"labels must be str or int, got {type(value).__name__}")


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
        self.matrix: IntArray = np.zeros((0, 0), dtype=np.int64)
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
        check_format(d, cls.TYPE)
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

    def _sums(self) -> tuple[IntArray, IntArray, IntArray]:
        tp = np.diagonal(self.matrix).copy()
        return tp, self.matrix.sum(axis=0), self.matrix.sum(axis=1)

    @staticmethod
    def _divide(num: ArrayLike, den: ArrayLike, zero_division: float) -> FloatArray:
        den_f = np.asarray(den, dtype=np.float64).copy()
        mask = den_f == 0
        den_f[mask] = 1.0
        out: FloatArray = np.asarray(num, dtype=np.float64) / den_f
        out[mask] = zero_division
        return out

    def per_class(self, zero_division: float = 0.0) -> dict[str, FloatArray]:
        """Per-label ``precision``, ``recall``, ``f1``, ``support`` arrays in ``labels`` order."""
        tp, pred_sum, true_sum = self._sums()
        return self._prf(tp, pred_sum, true_sum, zero_division) | {
            "support": true_sum.astype(np.float64)
        }

    def _prf(
        self, tp: IntArray, pred_sum: IntArray, true_sum: IntArray, zero_division: float
    ) -> dict[str, FloatArray]:
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


def _nanaverage(values: FloatArray, weights: IntArray | None) -> float:
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
