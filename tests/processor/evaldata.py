"""Generated data for the evaluator, exporter and API tests: a baseline and an aggregator.

A model ``fraud`` version ``1.0.0`` has numeric features ``f0``..``f3`` (standard normal in
the reference), a categorical feature ``c0`` and a numeric prediction ``score``. The current
production data is the same distribution except for the features named in ``drifted``: numeric
ones are shifted by one standard deviation, ``c0`` gets different category shares. ``f3``
arrives as exponential histograms (as from an app without the baseline) to exercise projection.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest

from otelml.processor.api.app import ensure_components
from otelml.processor.config import ProcessorConfig
from otelml.processor.state.aggregator import (
    PREDICTION_FEATURE,
    Aggregator,
    FeatureWindow,
    SeriesKey,
    Update,
)
from otelml.processor.state.context import ProcessorContext
from otelml.processor.telemetry import ProcessorTelemetry
from otelml.stats.baseline import Baseline
from otelml.stats.baseline_builder import BaselineBuilder
from otelml.stats.categorical import CategoryCounts
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram

T0 = 1_700_000_040.0
"""A 'now' aligned to the minute, so windows are predictable."""
MODEL, VERSION = "fraud", "1.0.0"
NUMERIC = ("f0", "f1", "f2", "f3")
CATEGORIES = ("a", "b", "c")
REF_P = (0.5, 0.3, 0.2)
DRIFT_P = (0.2, 0.3, 0.5)


def reference_frame(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Return reference columns."""
    cols: dict[str, np.ndarray] = {f: rng.normal(0.0, 1.0, n) for f in NUMERIC}
    cols["c0"] = rng.choice(np.array(CATEGORIES, dtype=object), n, p=REF_P)
    cols["score"] = rng.beta(2.0, 5.0, n)
    return cols


def make_baseline(
    seed: int = 0, n: int = 20_000, model: str = MODEL, version: str = VERSION
) -> Baseline:
    """Return a baseline of the reference distribution (importances f0 > f1 > ...)."""
    rng = np.random.default_rng(seed)
    b = BaselineBuilder(prediction="score")
    b.update(reference_frame(rng, n))
    imps = {"f0": 0.4, "f1": 0.3, "f2": 0.2, "f3": 0.1, "c0": 0.5}
    return b.freeze(
        model=model, version=version, importances=imps, created_at="2024-01-01T00:00:00Z"
    )


def window_of(
    values: np.ndarray, *, edges: Iterable[float] | None = None, missing: int = 0
) -> FeatureWindow:
    """Return a feature window of numeric values (explicit edges, or exponential)."""
    if edges is None:
        h: FixedHistogram | ExponentialHistogram = ExponentialHistogram()
    else:
        h = FixedHistogram(np.asarray(list(edges)))
    h.update_many(values)
    return FeatureWindow(numeric=h, missing=missing, rows=values.size + missing)


def category_window(values: np.ndarray) -> FeatureWindow:
    """Return a feature window of categorical values."""
    c = CategoryCounts()
    c.update_many(values)
    return FeatureWindow(categories=c, rows=values.size)


def current_updates(
    baseline: Baseline,
    *,
    drifted: Iterable[str] = (),
    now: float = T0,
    minutes: int = 30,
    per_minute: int = 400,
    seed: int = 1,
    environment: str = "production",
    version: str | None = None,
    segment: str = "",
) -> list[Update]:
    """Return per-minute updates of current data for the last ``minutes`` before ``now``."""
    drifted = set(drifted)
    rng = np.random.default_rng(seed)
    version = baseline.version if version is None else version
    out: list[Update] = []
    for m in range(minutes):
        ws = int(now) - 60 * (minutes - m)
        for f in NUMERIC:
            x = rng.normal(1.0 if f in drifted else 0.0, 1.0, per_minute)
            edges = None if f == "f3" else baseline.features[f].edges
            key = SeriesKey(baseline.model, version, environment, f, segment)
            out.append(Update(key, ws, window_of(x, edges=edges, missing=2)))
        p = DRIFT_P if "c0" in drifted else REF_P
        cats = rng.choice(np.array(CATEGORIES, dtype=object), per_minute, p=p)
        key = SeriesKey(baseline.model, version, environment, "c0", segment)
        out.append(Update(key, ws, category_window(cats)))
        score = (
            rng.beta(5.0, 2.0, per_minute) if "score" in drifted else rng.beta(2.0, 5.0, per_minute)
        )
        assert baseline.prediction is not None
        key = SeriesKey(baseline.model, version, environment, PREDICTION_FEATURE, segment)
        out.append(Update(key, ws, window_of(score, edges=baseline.prediction.edges)))
    return out


def make_aggregator(updates: list[Update], now: float = T0) -> Aggregator:
    """Return an aggregator holding ``updates``, its clock fixed at ``now``."""
    agg = Aggregator(resolution_s=60, clock=lambda: now)
    agg.apply(updates)
    return agg


def make_context(
    aggregator: Aggregator, db_path: Path, *, now: float = T0, max_series: int | None = None
) -> ProcessorContext:
    """Return a processor context over ``aggregator`` with registry and evaluator attached."""
    config = ProcessorConfig()
    if max_series is not None:
        config = dataclasses.replace(
            config, export=dataclasses.replace(config.export, max_series=max_series)
        )
    ctx = ProcessorContext(
        config=config,
        aggregator=aggregator,
        telemetry=ProcessorTelemetry(),
        db_path=db_path,
        clock=lambda: now,
    )
    ensure_components(ctx)
    _OPEN.append(ctx)
    return ctx


_OPEN: list[ProcessorContext] = []


@pytest.fixture(autouse=True)
def close_registries() -> Iterator[None]:
    """Close the registries of the contexts a test made (import it into the test module)."""
    yield
    while _OPEN:
        ctx = _OPEN.pop()
        if ctx.registry is not None:
            ctx.registry.close()
