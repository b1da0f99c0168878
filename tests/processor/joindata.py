"""Builders for the ground-truth join's tests: log events, engines, a scenario emitting it all."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from otelml import semconv
from otelml.processor.config import ProcessorConfig
from otelml.processor.state.joins import Joins
from otelml.processor.state.observations import LogEvent

NS = 1_000_000_000


def config(**sections: dict[str, Any]) -> ProcessorConfig:
    """Return the default config with some options of some sections replaced."""
    cfg = ProcessorConfig()
    for name, values in sections.items():
        cfg = dataclasses.replace(cfg, **{name: dataclasses.replace(getattr(cfg, name), **values)})
    assert not cfg.validate(), cfg.validate()
    return cfg


def prediction(
    pid: str,
    t: float,
    *,
    model: str = "m",
    version: str = "1",
    task: str = "binary_classification",
    value: float | None = None,
    label: str | None = None,
    scores: Sequence[float] | None = None,
    classes: Sequence[str] | None = None,
    segments: dict[str, str] | None = None,
    environment: str = "production",
) -> LogEvent:
    """Return an ``ml.prediction`` event made at unix time ``t``."""
    attrs: dict[str, Any] = {
        semconv.MODEL_NAME: model,
        semconv.MODEL_VERSION: version,
        semconv.MODEL_TASK: task,
        semconv.ENVIRONMENT: environment,
        semconv.PREDICTION_ID: pid,
        semconv.PREDICTION_TIME: int(t * NS),
    }
    if value is not None:
        attrs[semconv.PREDICTION_VALUE] = value
    if label is not None:
        attrs[semconv.PREDICTION_LABEL] = label
    if scores is not None:
        attrs[semconv.PREDICTION_SCORES] = list(scores)
        attrs[semconv.PREDICTION_CLASSES] = list(classes or ())
    for col, v in (segments or {}).items():
        attrs[semconv.segment_attribute(col)] = v
    return LogEvent(semconv.PREDICTION_EVENT, attrs, int(t * NS))


def actual(
    pid: str,
    t: float,
    *,
    model: str = "m",
    label: str | None = None,
    value: float | None = None,
) -> LogEvent:
    """Return an ``ml.actual`` event received at unix time ``t``."""
    attrs: dict[str, Any] = {semconv.MODEL_NAME: model, semconv.PREDICTION_ID: pid}
    if label is not None:
        attrs[semconv.ACTUAL_LABEL] = label
    if value is not None:
        attrs[semconv.ACTUAL_VALUE] = value
    return LogEvent(semconv.ACTUAL_EVENT, attrs, int(t * NS))


def open_joins(
    path: Path, cfg: ProcessorConfig | None = None, clock: Callable[[], float] | None = None
) -> Joins:
    """Return an opened join engine on ``path`` (close it in the test)."""
    kw: dict[str, Any] = {} if clock is None else {"clock": clock}
    j = Joins(path, cfg or ProcessorConfig(), **kw)
    j.open()
    return j


def chunks(events: Sequence[LogEvent], size: int) -> Iterator[Sequence[LogEvent]]:
    """Yield ``events`` in requests of ``size``."""
    for i in range(0, len(events), size):
        yield events[i : i + size]


def everything(joins: Joins, t0: float, seed: int = 0) -> None:
    """Feed a scenario that makes the join emit every metric it has (binary, regression,
    a duplicate, a rejected and an expired actual, an orphan, a pending prediction)."""
    rng = np.random.default_rng(seed)
    events: list[LogEvent] = []
    for i in range(300):
        s = float(rng.uniform())
        events.append(prediction(f"b{i}", t0 - 600 + i, value=s, segments={"country": "US"}))
        events.append(actual(f"b{i}", t0 - 300 + i, label=str(int(rng.uniform() < s))))
    for i in range(50):
        y = float(rng.normal(10, 2))
        events.append(prediction(f"r{i}", t0 - 600, model="reg", task="regression", value=y + 1))
        events.append(actual(f"r{i}", t0 - 500, model="reg", value=y))
    events.append(prediction("waiting", t0 - 10, value=0.3))
    events.append(prediction("old", t0 - 15 * 86400, value=0.5))  # past the 14-day horizon
    events.append(actual("b0", t0, label="0"))  # duplicate
    events.append(actual("x", t0, model="nobody", label="1"))  # unknown model
    events.append(actual("b1", t0, model="m"))  # malformed: no value
    events.append(actual("orphan1", t0 - 5, label="1"))
    events.append(actual("orphan2", t0 - 4, label="1"))
    events.append(actual("orphan3", t0 - 3, label="1"))
    joins.apply(events)
    joins.expire()
