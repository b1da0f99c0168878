"""What the values of predict spans add up to: one accumulator per series and window, and the
updates they become (:mod:`otelml.processor.receive.spans` fills them)."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from otelml.processor.state.aggregator import PREDICTION_FEATURE, FeatureWindow, SeriesKey, Update

_pack = struct.Struct("<d").pack


class SpanAcc:
    """One series' values in one window: float64 values as 8-byte chunks, in arrival order."""

    __slots__ = ("categories", "chunks", "invalid", "rows")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.categories: dict[str, int] = {}
        self.invalid: dict[str, int] = {}
        self.rows = 0
        """Prediction series only: rows by batch size (features count their values)."""

    def add(self, v: Any) -> None:
        """Add one observed value (float, str, list of them, or None)."""
        if isinstance(v, float):
            self.chunks.append(_pack(v))
        elif isinstance(v, str):
            self.categories[v] = self.categories.get(v, 0) + 1
        elif isinstance(v, list):
            for x in v:
                self.add(x)


# (model, version, environment, segment, window start) -> feature -> accumulator
Groups = dict[tuple[str, str, str, str, int], dict[str, SpanAcc]]


def finish(groups: Groups, max_categories: int) -> list[Update]:
    out = []
    for (model, version, env, segment, ws), group in groups.items():
        for feature, acc in group.items():
            key = SeriesKey(model, version, env, feature, segment)
            out.append(
                Update(key, ws, window_of(acc, feature == PREDICTION_FEATURE, max_categories))
            )
    return out


def window_of(acc: SpanAcc, prediction: bool, max_categories: int) -> FeatureWindow:
    from otelml.stats.categorical import CategoryCounts
    from otelml.stats.exponential import ExponentialHistogram

    fw = FeatureWindow(rows=acc.rows)
    if acc.chunks:
        x = np.frombuffer(b"".join(acc.chunks), dtype="<f8")
        finite = np.isfinite(x)
        if not finite.all():
            nan = np.isnan(x)
            # Issues in order of first appearance, as counting them one by one would give.
            issues = sorted(
                (int(np.argmax(mask)), issue, int(np.count_nonzero(mask)))
                for issue, mask in (("nan", nan), ("inf", ~finite & ~nan))
                if mask.any()
            )
            fw.invalid = {issue: n for _, issue, n in issues}
            x = x[finite]
        if x.size:
            h = ExponentialHistogram()
            h.update_many(x)
            fw.numeric = h
    if acc.categories:
        cc = CategoryCounts(cap=max_categories)
        cc.update_counts(acc.categories)
        fw.categories = cc
    if not prediction:
        fw.rows = len(acc.chunks) + sum(acc.categories.values())
    return fw
