"""What a joined (prediction, actual) pair contributes: the task decides, the labels normalised.

The task comes from the prediction's ``ml.model.task``; when it is ``other`` (or absent) it is
inferred: class scores make it multiclass, a label with a score binary, a label alone
multiclass, a value alone regression. Binary labels ``true`` / ``false`` (any case) read as
``1`` / ``0``, and an integer-valued actual as its integer, so ``record_actuals(actuals=[True])``,
``[1]``, ``[1.0]`` and ``["1"]`` all meet a ``predict_proba`` model's ``"1"``. Labels typed as
numbers were spelled by :func:`otelml._categories.canonical` when parsed
(:mod:`otelml.processor.state.pending`), as the client spells them: ``1`` and ``1.0`` are ``"1"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from otelml._categories import canonical
from otelml.processor.state.pending import Actual, Prediction


@dataclass(frozen=True, slots=True)
class Row:
    """What one joined (prediction, actual) pair contributes to its window."""

    kind: str
    """``binary``, ``multiclass`` or ``regression``."""
    true: str = ""
    pred: str = ""
    score: float | None = None
    """Binary: the positive-class score; multiclass: unused."""
    positive: bool = False
    """Binary: whether the actual is the positive label."""
    pred_positive: bool = False
    """Binary: whether the model's own label (or the threshold's) is the positive one."""
    scores: tuple[float, ...] | None = None
    classes: tuple[str, ...] | None = None
    y: float = 0.0
    f: float = 0.0


def _norm(label: str) -> str:
    low = label.lower()
    if low == "true":
        return "1"
    if low == "false":
        return "0"
    return label


def _true_label(a: Actual) -> str | None:
    if a.label is not None:
        return _norm(a.label)
    v = a.value
    if v is not None and math.isfinite(v) and v == int(v):
        return canonical(v)
    return None


def predicted_positive(p: Prediction, *, positive: str = "1", threshold: float = 0.5) -> bool:
    """Return whether a binary prediction says ``positive``: its own label, else the threshold."""
    if p.label is not None:
        return _norm(p.label) == positive
    return p.value is not None and p.value > threshold


def task_of(p: Prediction) -> str:
    """Return ``binary``, ``multiclass`` or ``regression`` for a prediction."""
    if p.task == "binary_classification":
        return "binary"
    if p.task == "multiclass_classification":
        return "multiclass"
    if p.task == "regression":
        return "regression"
    if p.scores is not None:
        return "multiclass"
    if p.label is not None:
        return "binary" if p.value is not None else "multiclass"
    return "regression"


def contribution(
    p: Prediction, a: Actual, *, positive: str = "1", negative: str = "0", threshold: float = 0.5
) -> Row | None:
    """Return the pair's :class:`Row`, or None when the actual does not fit the prediction.

    Binary predictions without a label are predicted ``positive`` when the score is
    ``> threshold``, else ``negative``.
    """
    kind = task_of(p)
    if kind == "regression":
        if a.value is None or p.value is None:
            return None
        return Row("regression", y=a.value, f=p.value)
    true = _true_label(a)
    if true is None:
        return None
    if kind == "binary":
        if p.label is not None:
            pred = _norm(p.label)
        elif p.value is not None:
            pred = positive if p.value > threshold else negative
        else:
            return None
        return Row(
            "binary",
            true=true,
            pred=pred,
            score=p.value,
            positive=true == positive,
            pred_positive=pred == positive,
        )
    if p.label is not None:
        pred = p.label
    elif p.scores is not None and p.classes is not None:
        pred = p.classes[max(range(len(p.scores)), key=p.scores.__getitem__)]
    else:
        return None
    return Row("multiclass", true=true, pred=pred, scores=p.scores, classes=p.classes)
