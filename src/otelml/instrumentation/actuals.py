"""``otelml.record_actuals``: ground truth as ``ml.actual`` log records, joined later by id."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from otelml import semconv
from otelml.instrumentation.config import ConfigError
from otelml.instrumentation.guard import GUARD
from otelml.instrumentation.logs import LOGS
from otelml.instrumentation.runtime import RUNTIME


def _actual_attributes(value: Any) -> dict[str, Any]:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, str)):
        return {semconv.ACTUAL_LABEL: str(value)}
    if isinstance(value, int):  # a class code or a count: both readings are offered
        return {semconv.ACTUAL_LABEL: str(value), semconv.ACTUAL_VALUE: float(value)}
    if isinstance(value, float):
        return {} if math.isnan(value) else {semconv.ACTUAL_VALUE: value}
    return {semconv.ACTUAL_LABEL: str(value)}


def record_actuals(
    *,
    model: str,
    ids: Iterable[Any],
    actuals: Iterable[Any],
    version: str | None = None,
    timestamp_ns: int | None = None,
) -> int:
    """Emit one ``ml.actual`` log record per (id, actual); return how many were queued.

    Call it whenever ground truth arrives, from any process: the processor joins actuals to
    ``ml.prediction`` records by ``ml.prediction.id``. Floats are regression values, strings
    and booleans class labels, integers both. Arguments are checked (``ValueError``); telemetry
    failures are swallowed and counted like everywhere else in otelml.
    """
    if not isinstance(model, str) or not model:
        raise ConfigError(f"model: expected a non-empty string, got {model!r}")
    id_list = [str(i) for i in ids]
    actual_list = list(actuals)
    if len(id_list) != len(actual_list):
        raise ValueError(
            f"ids and actuals must have the same length, got {len(id_list)} and {len(actual_list)}"
        )
    try:
        pipes = RUNTIME.poll() if RUNTIME.pipes is None else RUNTIME.pipes
        if pipes is None or pipes.logger is None or not id_list:
            return 0
        base: dict[str, Any] = {semconv.MODEL_NAME: model}
        if version is not None:
            base[semconv.MODEL_VERSION] = version
        when = timestamp_ns if timestamp_ns is not None else time.time_ns()

        def build() -> list[tuple[dict[str, Any], int | None]]:
            return [
                ({**base, semconv.PREDICTION_ID: pid, **_actual_attributes(a)}, when)
                for pid, a in zip(id_list, actual_list, strict=True)
            ]

        ok = LOGS.put(pipes.logger, semconv.ACTUAL_EVENT, None, len(id_list), build)
        return len(id_list) if ok else 0
    except Exception as exc:
        GUARD.error("record_actuals", exc)
        return 0
