"""Validation of one OTLP data point's value: sums, explicit-bucket and exponential histograms.

Each function returns the value in the processor's own form (:mod:`otelml.processor.temporality`)
or raises :class:`PointError` naming what is wrong; the point is then refused alone.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from otelml.processor.temporality import ExpoPoint, HistPoint


class PointError(ValueError):
    """One data point (or span) is refused; ``reason`` is a telemetry reason label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def count_value(dp: Any) -> int:
    kind = dp.WhichOneof("value")
    if kind == "as_int":
        v = int(dp.as_int)
    elif kind == "as_double":
        x = float(dp.as_double)
        if not math.isfinite(x) or x != math.floor(x):
            raise PointError("invalid_point", "counter value must be a finite whole number")
        v = int(x)
    else:
        raise PointError("invalid_point", "counter point without a value")
    if v < 0:
        raise PointError("invalid_point", "counter value must be >= 0")
    return v


def _finite(x: float, what: str) -> float:
    if not math.isfinite(x):
        raise PointError("invalid_point", f"{what} must be finite")
    return float(x)


def _counts(values: Any, what: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    a = np.array(values, dtype=np.uint64).astype(np.int64)
    if (a < 0).any():  # uint64 above int64's range
        raise PointError("invalid_point", f"{what} too large")
    return a


_BOUNDS_OK: dict[tuple[float, ...], bool] = {}
_INT64_MAX = 2**63 - 1


def _bounds_ok(bounds: tuple[float, ...]) -> bool:
    # Series keep their bounds, so the check is cached (bounded: a cache miss only costs time).
    ok = _BOUNDS_OK.get(bounds)
    if ok is None:
        ok = all(math.isfinite(b) for b in bounds) and all(
            a < b for a, b in itertools.pairwise(bounds)
        )
        if len(_BOUNDS_OK) < 4096:
            _BOUNDS_OK[bounds] = ok
    return ok


def hist_value(dp: Any) -> HistPoint:
    bounds = tuple(dp.explicit_bounds)
    counts = list(dp.bucket_counts)
    if len(counts) != len(bounds) + 1:
        raise PointError("invalid_point", "bucket_counts must have len(explicit_bounds) + 1")
    if not _bounds_ok(bounds):
        raise PointError("invalid_point", "explicit_bounds must be finite and increasing")
    count = dp.count
    if sum(counts) != count:
        raise PointError("invalid_point", "count differs from the sum of bucket_counts")
    if count > _INT64_MAX:
        raise PointError("invalid_point", "count too large")
    return HistPoint(
        bounds,
        np.array(counts, dtype=np.int64),
        _finite(dp.sum, "sum") if dp.HasField("sum") else 0.0,
        _finite(dp.min, "min") if dp.HasField("min") else math.nan,
        _finite(dp.max, "max") if dp.HasField("max") else math.nan,
        count,
    )


def expo_value(dp: Any) -> ExpoPoint:
    if not -10 <= dp.scale <= 20:
        raise PointError("invalid_point", "scale must be in [-10, 20]")
    if dp.zero_threshold and not math.isfinite(dp.zero_threshold):
        raise PointError("invalid_point", "zero_threshold must be finite")
    pos = _counts(dp.positive.bucket_counts, "positive.bucket_counts")
    neg = _counts(dp.negative.bucket_counts, "negative.bucket_counts")
    if pos.size > 4096 or neg.size > 4096:
        raise PointError("invalid_point", "more than 4096 exponential buckets")
    v = ExpoPoint(
        int(dp.scale),
        int(dp.zero_count),
        int(dp.positive.offset),
        pos,
        int(dp.negative.offset),
        neg,
        _finite(dp.sum, "sum") if dp.HasField("sum") else 0.0,
        _finite(dp.min, "min") if dp.HasField("min") else math.nan,
        _finite(dp.max, "max") if dp.HasField("max") else math.nan,
    )
    if v.count != dp.count:
        raise PointError("invalid_point", "count differs from the sum of bucket counts")
    return v
