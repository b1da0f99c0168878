"""Families under a series cap: how collected points become exported families.

Every exporter part builds its families through one :class:`FamilyBuilder`, whose
:class:`SeriesLimiter` (one per processor, kept on the context) caps the label sets per metric:
a label set seen first keeps its place; beyond the cap, counters are summed into one
``__overflow__`` series, gauges and histograms are dropped, and the overflow is counted.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from otelml import semconv
from otelml.processor.export.catalogue import METRICS
from otelml.processor.export.shapes import Family, HistogramPoint

if TYPE_CHECKING:
    from otelml.processor.state.context import ProcessorContext


class SeriesLimiter:
    """Caps the label sets per metric; the first ``max_series`` seen keep their place."""

    def __init__(self, max_series: int) -> None:
        self.max_series = max_series
        self._admitted: dict[str, set[tuple[str, ...]]] = {}
        self._overflowed: dict[str, int] = {}
        self._lock = threading.Lock()

    def admit(self, metric: str, labels: tuple[str, ...]) -> bool:
        """Return whether ``labels`` may be exported for ``metric``."""
        with self._lock:
            seen = self._admitted.setdefault(metric, set())
            if labels in seen:
                return True
            if len(seen) < self.max_series:
                seen.add(labels)
                return True
            return False

    def report(self, metric: str, overflowed: int) -> int:
        """Return how many more label sets overflowed than ever before (for the counter)."""
        with self._lock:
            before = self._overflowed.get(metric, 0)
            if overflowed > before:
                self._overflowed[metric] = overflowed
                return overflowed - before
            return 0


class FamilyBuilder:
    """The families of one collection part, with the overflow of their series."""

    def __init__(self, limiter: SeriesLimiter, skip: frozenset[str] = frozenset()) -> None:
        self.limiter = limiter
        self.skip = skip
        self.families = {m.name: Family(m) for m in METRICS}
        self._overflow: dict[str, int] = {}
        self._overflow_sum: dict[str, float] = {}

    def add(self, name: str, labels: tuple[str, ...], value: float) -> None:
        fam = self.families[name]
        if self.limiter.admit(name, labels):
            fam.samples.append((labels, float(value)))
            return
        self._overflow[name] = self._overflow.get(name, 0) + 1
        if fam.metric.type == "counter":
            self._overflow_sum[name] = self._overflow_sum.get(name, 0.0) + float(value)

    def hist(self, name: str, point: HistogramPoint) -> None:
        if self.limiter.admit(name, point.labels):
            self.families[name].histograms.append(point)
        else:
            self._overflow[name] = self._overflow.get(name, 0) + 1

    def finish(self) -> int:
        """Append the counters' overflow series; return how many label sets newly overflowed."""
        new = 0
        for name, n in self._overflow.items():
            new += self.limiter.report(name, n)
        for name, total in self._overflow_sum.items():
            fam = self.families[name]
            fam.samples.append(((semconv.OVERFLOW_VALUE,) * len(fam.metric.labels), total))
        self._overflow.clear()
        self._overflow_sum.clear()
        return new


def limiter_of(ctx: ProcessorContext) -> SeriesLimiter:
    """Return the context's series limiter, creating it on first use."""
    lim = ctx.extras.get("series_limiter")
    if lim is None:
        lim = ctx.extras["series_limiter"] = SeriesLimiter(ctx.config.export.max_series)
    assert isinstance(lim, SeriesLimiter)
    return lim


def finish_families(b: FamilyBuilder, ctx: ProcessorContext) -> list[Family]:
    new_overflow = b.finish()
    if new_overflow:
        # Into the shared counter, so that the OTLP push and the next scrape both see it.
        ctx.telemetry.overflow("series", new_overflow)
    return [f for f in b.families.values() if f.samples or f.histograms]
