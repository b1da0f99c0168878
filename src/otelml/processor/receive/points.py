"""Validation of one OTLP data point's value: sums, explicit-bucket and exponential histograms.

Each function returns the value in the processor's own form
(:mod:`otelml.processor.state.temporality`) or raises :class:`PointError` naming what is wrong; the
point is then refused alone.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, NamedTuple

import numpy as np

from otelml.processor.state.temporality import ExpoPoint, HistPoint
from otelml.processor.state.window import MAX_COUNT


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
    if v > MAX_COUNT:
        raise PointError("invalid_point", "counter value too large")
    return v


def _finite(x: float, what: str) -> float:
    if not math.isfinite(x):
        raise PointError("invalid_point", f"{what} must be finite")
    return float(x)


def _counts(values: Any, what: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    a = np.array(values, dtype=np.uint64).astype(np.int64)
    if (a < 0).any() or (a > MAX_COUNT).any():  # negative: uint64 above int64's range
        raise PointError("invalid_point", f"{what} too large")
    return a


_BOUNDS_OK: dict[tuple[float, ...], bool] = {}


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
    if count > MAX_COUNT:
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
    if dp.zero_count > MAX_COUNT or dp.count > MAX_COUNT:
        raise PointError("invalid_point", "count too large")
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


class _Layout(NamedTuple):
    """One ``explicit_bounds`` seen on the wire: its bounds and whether they are valid."""

    bounds: tuple[float, ...]
    ok: bool
    nbytes: int
    """Size of a matching packed ``bucket_counts`` (8 bytes per bucket, one more than bounds)."""


_LAYOUTS: dict[bytes, _Layout] = {}
_MALFORMED_BOUNDS = _Layout((), False, -1)
_ROW_LIMIT = (1 << 64) - 1


def _layout(raw: bytes) -> _Layout:
    lay = _LAYOUTS.get(raw)
    if lay is None:
        if len(raw) % 8:
            return _MALFORMED_BOUNDS
        bounds = tuple(np.frombuffer(raw, dtype="<f8").tolist())
        lay = _Layout(bounds, _bounds_ok(bounds), 8 * (len(bounds) + 1))
        if len(_LAYOUTS) >= 4096:
            _LAYOUTS.clear()  # bounded; series keep their bounds, so it refills at once
        _LAYOUTS[raw] = lay
    return lay


class _Rows:
    """The points of one layout in a :class:`HistBatch`."""

    __slots__ = ("counts", "errors", "layout", "maxs", "mins", "raw", "sums")

    def __init__(self, layout: _Layout) -> None:
        self.layout = layout
        self.raw: list[bytes] = []
        self.counts: list[int] = []
        self.sums: list[float] = []
        self.mins: list[float] = []
        self.maxs: list[float] = []
        self.errors: dict[int, str] = {}


class HistBatch:
    """Explicit-bucket points of one metric, from a lazily decoded request, checked together.

    :meth:`add` checks what one point's layout says right away (as :func:`hist_value` does
    first) and keeps the packed bucket counts; :meth:`finish` reads the counts of every point
    of one layout with one numpy call, checks them against ``count`` at once, and returns each
    point's :class:`HistPoint` or its :class:`PointError`, in the order and with the messages
    that :func:`hist_value` gives point by point.
    """

    def __init__(self) -> None:
        self._rows: dict[bytes, _Rows] = {}
        self._where: list[tuple[_Rows | None, Any]] = []
        self._single: _Rows = _Rows(_MALFORMED_BOUNDS)

    def add(self, bounds_raw: bytes, counts_raw: bytes, dp: Any) -> int:
        """Queue one point (packed ``explicit_bounds``, ``bucket_counts``); return its row."""
        lay = _layout(bounds_raw)
        if lay is _MALFORMED_BOUNDS:
            raise PointError("invalid_point", "malformed explicit_bounds")
        if len(counts_raw) != lay.nbytes:
            if len(counts_raw) % 8:
                raise PointError("invalid_point", "malformed bucket_counts")
            raise PointError("invalid_point", "bucket_counts must have len(explicit_bounds) + 1")
        if not lay.ok:
            raise PointError("invalid_point", "explicit_bounds must be finite and increasing")
        rows = self._rows.get(bounds_raw)
        if rows is None:
            rows = self._rows[bounds_raw] = self._single = _Rows(lay)
        j = len(rows.raw)
        rows.raw.append(counts_raw)
        rows.counts.append(dp.count)
        # x - x is 0.0 exactly for finite x, NaN for NaN and ±inf. An unset optional reads
        # 0.0, so only a 0.0 needs HasField to tell "unset" (NaN here) from "zero".
        s, lo, hi = dp.sum, dp.min, dp.max
        if s - s != 0.0:
            rows.errors[j] = "sum must be finite"
        elif lo - lo != 0.0:
            rows.errors[j] = "min must be finite"
        elif hi - hi != 0.0:
            rows.errors[j] = "max must be finite"
        if lo == 0.0 and not dp.HasField("min"):
            lo = math.nan
        if hi == 0.0 and not dp.HasField("max"):
            hi = math.nan
        rows.sums.append(s)
        rows.mins.append(lo)
        rows.maxs.append(hi)
        self._where.append((rows, j))
        return len(self._where) - 1

    def add_value(self, value: HistPoint) -> int:
        """Queue a point decoded and checked elsewhere; return its row."""
        self._where.append((None, value))
        return len(self._where) - 1

    def finish(self) -> list[HistPoint | PointError]:
        """Return every queued point's value or error, by row."""
        if len(self._rows) == 1 and len(self._where) == len(self._single.raw):
            return _check_rows(self._single)  # one layout, nothing else: rows are in order
        done: dict[int, list[HistPoint | PointError]] = {}
        for rows in self._rows.values():
            done[id(rows)] = _check_rows(rows)
        return [done[id(rows)][j] if rows is not None else j for rows, j in self._where]


def _check_rows(rows: _Rows) -> list[HistPoint | PointError]:
    lay, n = rows.layout, len(rows.raw)
    k = lay.nbytes // 8
    c = np.frombuffer(b"".join(rows.raw), dtype="<u8").reshape(n, k)
    count = np.array(rows.counts, dtype=np.uint64)
    # uint64 sums wrap; with every bucket <= count they cannot wrap back onto count unless
    # k * count reaches 2**64 (checked exactly below).
    ok = (c.sum(axis=1, dtype=np.uint64) == count) & (c.max(axis=1) <= count)
    large = count > MAX_COUNT
    exact = count > _ROW_LIMIT // k
    counts = c.astype(np.int64)  # rows above int64 are refused below
    bounds = lay.bounds
    if ok.all() and not large.any() and not exact.any() and not rows.errors:
        return [
            HistPoint(bounds, row, s, lo, hi, cnt)
            for row, s, lo, hi, cnt in zip(
                counts, rows.sums, rows.mins, rows.maxs, rows.counts, strict=True
            )
        ]
    out: list[HistPoint | PointError] = []
    for j, (good, big, slow) in enumerate(
        zip(ok.tolist(), large.tolist(), exact.tolist(), strict=True)
    ):
        if slow:
            good = sum(c[j].tolist()) == rows.counts[j]
        if not good:
            out.append(PointError("invalid_point", "count differs from the sum of bucket_counts"))
        elif big:
            out.append(PointError("invalid_point", "count too large"))
        elif j in rows.errors:
            out.append(PointError("invalid_point", rows.errors[j]))
        else:
            out.append(
                HistPoint(bounds, counts[j], rows.sums[j], rows.mins[j], rows.maxs[j],
                          rows.counts[j])
            )  # fmt: skip
    return out
