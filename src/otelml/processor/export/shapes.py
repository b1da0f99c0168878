"""The shape of an exported metric and of one collection's points.

:class:`Family` and :class:`HistogramPoint` carry one collection's points to the Prometheus
text exposition (:mod:`otelml.processor.export.exposition`) and the OTLP exporter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

MetricType = Literal["gauge", "counter", "histogram"]


@dataclass(frozen=True, slots=True)
class MetricDef:
    """One exported metric: Prometheus name, type, unit, label names and meaning."""

    name: str
    type: MetricType
    unit: str
    labels: tuple[str, ...]
    help: str

    @property
    def otlp_name(self) -> str:
        """Return the OTLP metric name (counters without ``_total``, which exporters add)."""
        return self.name.removesuffix("_total") if self.type == "counter" else self.name


@dataclass(frozen=True, slots=True)
class HistogramPoint:
    """An explicit-bucket histogram point: non-cumulative ``counts`` over ``bounds`` (+ +Inf)."""

    labels: tuple[str, ...]
    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    sum: float
    count: int


@dataclass(slots=True)
class Family:
    """The points of one metric at one collection."""

    metric: MetricDef
    samples: list[tuple[tuple[str, ...], float]] = field(default_factory=list)
    histograms: list[HistogramPoint] = field(default_factory=list)
