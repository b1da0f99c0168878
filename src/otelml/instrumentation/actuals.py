"""``otelml.record_actuals``: ground truth as ``ml.actual`` log records, joined later by id."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from otelml import semconv
from otelml._categories import canonical
from otelml.instrumentation.config import ConfigError
from otelml.instrumentation.delivery import FlushResult, flush
from otelml.instrumentation.guard import GUARD
from otelml.instrumentation.logs import LOGS
from otelml.instrumentation.runtime import RUNTIME


class Sent(int):
    """How many records :func:`record_actuals` queued: an ``int``, plus what became of them.

    ``queued`` records were accepted into otelml's queue and ``dropped`` were not (queue
    full, counted in ``otelml.instrumentation.dropped``); :meth:`wait` flushes and returns a
    :class:`~otelml.FlushResult` saying what was delivered.
    """

    queued: int
    dropped: int

    def __new__(cls, queued: int, dropped: int = 0) -> Sent:
        obj = super().__new__(cls, queued)
        obj.queued = queued
        obj.dropped = dropped
        return obj

    def wait(self, timeout: float = 10.0) -> FlushResult:
        """Flush otelml's queue and the SDK within ``timeout`` s; return what was delivered."""
        return flush(timeout)

    def __str__(self) -> str:  # prints like the int it replaces
        return str(int(self))

    def __repr__(self) -> str:
        return f"Sent(queued={self.queued}, dropped={self.dropped})"


def _actual_attributes(value: Any) -> dict[str, Any]:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, str)):
        return {semconv.ACTUAL_LABEL: canonical(value)}
    if isinstance(value, int):  # a class code or a count: both readings are offered
        return {semconv.ACTUAL_LABEL: canonical(value), semconv.ACTUAL_VALUE: float(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {}
        if value.is_integer():  # 1.0 read from a CSV is the class 1 as much as the value 1
            return {semconv.ACTUAL_LABEL: canonical(value), semconv.ACTUAL_VALUE: value}
        return {semconv.ACTUAL_VALUE: value}
    return {semconv.ACTUAL_LABEL: str(value)}


def _as_list(values: Any) -> list[Any]:
    # A string is one id (not its characters); so is any other scalar.
    if isinstance(values, (str, bytes, int, float, np.generic)) or values is None:
        return [values]
    if isinstance(values, np.ndarray):
        return values.tolist() if values.ndim else [values.item()]
    return list(values)


def record_actuals(
    *,
    model: str,
    ids: Iterable[Any] | str,
    actuals: Iterable[Any] | Any,
    version: str | None = None,
    timestamp_ns: int | None = None,
    block_s: float | None = None,
) -> Sent:
    """Emit one ``ml.actual`` log record per (id, actual); return how many were queued.

    Call it whenever ground truth arrives, from any process: the processor joins actuals to
    ``ml.prediction`` records by ``ml.prediction.id``. A single id may be a plain string (with
    one actual). Floats are regression values, strings and booleans class labels, integers
    (and integral floats) both. ``block_s`` waits that long for room in a full queue instead
    of dropping (default: ``configure(log_queue_block_s=...)``, 0). The result is an ``int``
    (:class:`Sent`) whose ``wait()`` flushes and reports delivery. Arguments are checked
    (``ValueError``); telemetry failures are swallowed and counted like everywhere else.
    """
    if not isinstance(model, str) or not model:
        raise ConfigError(f"model: expected a non-empty string, got {model!r}")
    id_list = [str(i) for i in _as_list(ids)]
    actual_list = _as_list(actuals)
    if len(id_list) != len(actual_list):
        raise ValueError(
            f"ids and actuals must have the same length, got {len(id_list)} and {len(actual_list)}"
        )
    try:
        pipes = RUNTIME.poll() if RUNTIME.pipes is None else RUNTIME.pipes
        if pipes is None or pipes.logger is None or not id_list:
            return Sent(0)
        base: dict[str, Any] = {semconv.MODEL_NAME: model}
        if version is not None:
            base[semconv.MODEL_VERSION] = version
        when = timestamp_ns if timestamp_ns is not None else time.time_ns()

        def build() -> list[tuple[dict[str, Any], int | None]]:
            return [
                ({**base, semconv.PREDICTION_ID: pid, **_actual_attributes(a)}, when)
                for pid, a in zip(id_list, actual_list, strict=True)
            ]

        ok = LOGS.put(
            pipes.logger, semconv.ACTUAL_EVENT, None, len(id_list), build, block_s=block_s
        )
        return Sent(len(id_list)) if ok else Sent(0, len(id_list))
    except Exception as exc:
        GUARD.error("record_actuals", exc)
        return Sent(0)
