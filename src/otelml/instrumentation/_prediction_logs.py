"""Prediction log events (``ml.prediction``) of one observed call."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from opentelemetry import trace

from otelml import semconv
from otelml.instrumentation import extract
from otelml.instrumentation.logs import LOGS


def log_predictions(
    logger: Any,
    span: Any,
    base: Mapping[str, Any],
    segment_by: Sequence[str],
    ids: list[str],
    outputs: extract.Outputs,
    inputs: extract.Inputs | None,
) -> None:
    """Queue one ``ml.prediction`` event per id, built lazily off the model's thread.

    ``base`` holds the model's identity attributes and ``span`` (or None) links each event.
    """
    ctx = trace.set_span_in_context(span) if span is not None else None
    when = time.time_ns()
    by = segment_by
    seg_cols: dict[str, list[str]] = {}
    if inputs is not None and by:
        if inputs.row is not None:
            seg_cols = {c: [str(inputs.row.get(c))] for c in by}
        elif inputs.columns is not None:
            seg_cols = {
                c: [str(v) for v in inputs.columns[c].tolist()] for c in by if c in inputs.columns
            }
    values, labels, scores = outputs.values, outputs.labels, outputs.scores
    classes = list(outputs.classes) if outputs.classes is not None else None

    def build() -> list[tuple[dict[str, Any], int | None]]:
        records: list[tuple[dict[str, Any], int | None]] = []
        vals = None if values is None else np.asarray(values, dtype=np.float64).tolist()
        labs = None if labels is None else [str(x) for x in labels]
        scs = None if scores is None else scores.tolist()
        for i, pid in enumerate(ids):
            attrs: dict[str, Any] = {
                **base,
                semconv.PREDICTION_ID: pid,
                semconv.PREDICTION_TIME: when,
            }
            if vals is not None:
                attrs[semconv.PREDICTION_VALUE] = vals[i]
            if labs is not None:
                attrs[semconv.PREDICTION_LABEL] = labs[i]
            if scs is not None:
                attrs[semconv.PREDICTION_SCORES] = scs[i]
                attrs[semconv.PREDICTION_CLASSES] = classes
            for c, col in seg_cols.items():
                attrs[semconv.segment_attribute(c)] = col[i]
            records.append((attrs, when))
        return records

    LOGS.put(logger, semconv.PREDICTION_EVENT, ctx, len(ids), build)
