"""The demo's view of the processor: :mod:`otelml.report.snapshot`, shared with
``otelml report --url`` (kept here so existing imports keep working)."""

from __future__ import annotations

from otelml.report.snapshot import (
    PERFORMANCE_METRICS,
    PREDICTION,
    STATUS_ORDER,
    FeatureRow,
    Performance,
    Snapshot,
    _performance,
    poll,
)

__all__ = [
    "PERFORMANCE_METRICS",
    "PREDICTION",
    "STATUS_ORDER",
    "FeatureRow",
    "Performance",
    "Snapshot",
    "_performance",
    "poll",
]
