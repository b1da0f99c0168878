"""A mergeable base-2 exponential histogram following the OpenTelemetry data model.

At scale ``s`` the base is ``2 ** (2 ** -s)`` and bucket index ``i`` covers
``(base ** i, base ** (i + 1)]``. Positive and negative values have their own contiguous bucket
ranges (``offset`` + ``counts``); ``|x| <= zero_threshold`` goes to ``zero_count``. When a range
would need more than ``max_size`` buckets the histogram halves its resolution (scale - 1, two
buckets become one) until it fits, exactly like the OTel SDK's
``ExponentialBucketHistogramAggregation``, whose exported points ``from_otel`` ingests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from otelml.stats._exp_index import BitIndexer, index_range, lower_boundary, map_to_index
from otelml.stats._sketch import (
    FORMAT_VERSION,
    as_float,
    as_float_array,
    check_header,
    counts_from_json,
    field,
    float_from_json,
    float_to_json,
    int_field,
    same_float,
)
from otelml.stats.histogram import FixedHistogram

__all__ = [
    "MAX_SCALE",
    "MIN_SCALE",
    "Buckets",
    "ExponentialHistogram",
    "lower_boundary",
    "map_to_index",
]

_TYPE = "exponential_histogram"
MIN_SCALE = -10
"""Below this scale every normal float64 falls into two buckets; OTel's limit too."""
MAX_SCALE = 20
"""The largest scale OTel defines (and the SDK's default ``max_scale``)."""
# Below this many values, BitIndexer's table costs more than map_to_index's frexp and log2.
_SMALL_BATCH = 8192

_I64 = npt.NDArray[np.int64]


class Buckets(NamedTuple):
    """One contiguous bucket range: ``counts[j]`` belongs to bucket index ``offset + j``."""

    offset: int
    counts: _I64


def _trim(offset: int, counts: _I64) -> Buckets:
    nz = np.flatnonzero(counts)
    if nz.size == 0:
        return Buckets(0, np.zeros(0, dtype=np.int64))
    return Buckets(offset + int(nz[0]), counts[nz[0] : nz[-1] + 1].copy())


def _downscale(b: Buckets, change: int) -> Buckets:
    if change == 0 or b.counts.size == 0:
        return b
    new = (b.offset + np.arange(b.counts.size, dtype=np.int64)) >> change
    starts = np.flatnonzero(np.diff(new, prepend=new[0] - 1))
    # reduceat keeps int64 (bincount with weights would go through float64).
    return Buckets(int(new[0]), np.add.reduceat(b.counts, starts).astype(np.int64))


def _scale_change(lo: int, hi: int, max_size: int) -> int:
    change = 0
    while hi - lo >= max_size:
        lo, hi, change = lo >> 1, hi >> 1, change + 1
    return change


def _add(a: Buckets, b: Buckets) -> Buckets:
    if a.counts.size == 0:
        return b
    if b.counts.size == 0:
        return a
    lo = min(a.offset, b.offset)
    hi = max(a.offset + a.counts.size, b.offset + b.counts.size)
    out = np.zeros(hi - lo, dtype=np.int64)
    out[a.offset - lo : a.offset - lo + a.counts.size] += a.counts
    out[b.offset - lo : b.offset - lo + b.counts.size] += b.counts
    return Buckets(lo, out)


class ExponentialHistogram:
    """Counts of values in base-2 exponential buckets (the OTel exponential histogram).

    ``count``, ``sum``, ``min`` and ``max`` cover the finite values (``min``/``max`` NaN when
    empty); NaN and +-inf are counted apart. ``positive`` and ``negative`` are :class:`Buckets`
    (read-only arrays, trimmed: no zero count at either end; empty ranges have offset 0).
    """

    __slots__ = (
        "_neg",
        "_pos",
        "max",
        "max_scale",
        "max_size",
        "min",
        "nan_count",
        "neginf_count",
        "posinf_count",
        "scale",
        "sum",
        "zero_count",
        "zero_threshold",
    )

    def __init__(
        self, max_size: int = 160, max_scale: int = MAX_SCALE, zero_threshold: float = 0.0
    ) -> None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 2:
            raise ValueError(f"max_size: must be an int >= 2, got {max_size!r}")
        if not isinstance(max_scale, int) or not MIN_SCALE <= max_scale <= MAX_SCALE:
            raise ValueError(f"max_scale: must be an int in [{MIN_SCALE}, {MAX_SCALE}]")
        if not (math.isfinite(zero_threshold) and zero_threshold >= 0):
            raise ValueError("zero_threshold: must be finite and >= 0")
        self.max_size, self.max_scale = max_size, max_scale
        self.zero_threshold = float(zero_threshold)
        self.scale = max_scale
        self.zero_count = 0
        empty = Buckets(0, np.zeros(0, dtype=np.int64))
        self._pos, self._neg = empty, empty
        self.sum, self.min, self.max = 0.0, math.nan, math.nan
        self.nan_count = self.posinf_count = self.neginf_count = 0

    # ---------------------------------------------------------------- views
    @staticmethod
    def _view(b: Buckets) -> Buckets:
        c = b.counts.view()
        c.flags.writeable = False
        return Buckets(b.offset, c)

    @property
    def positive(self) -> Buckets:
        """Buckets of positive values: ``counts[j]`` covers ``(base**(offset+j), base**(offset+j+1)]``."""  # noqa: E501
        return self._view(self._pos)

    @property
    def negative(self) -> Buckets:
        """Buckets of negative values by magnitude, as for :attr:`positive`."""
        return self._view(self._neg)

    @property
    def count(self) -> int:
        """Number of finite values recorded (zero bucket included)."""
        return self.zero_count + int(self._pos.counts.sum()) + int(self._neg.counts.sum())

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_otel(
        cls,
        scale: int,
        zero_count: int,
        positive_offset: int,
        positive_counts: Sequence[int] | npt.ArrayLike,
        negative_offset: int = 0,
        negative_counts: Sequence[int] | npt.ArrayLike = (),
        *,
        sum: float = 0.0,  # shadows the builtin: mirrors the OTel field name
        min: float | None = None,
        max: float | None = None,
        zero_threshold: float = 0.0,
        max_size: int = 160,
        max_scale: int = MAX_SCALE,
    ) -> ExponentialHistogram:
        """Return a histogram holding an OTel ``ExponentialHistogramDataPoint``'s fields.

        ``positive_offset``/``positive_counts`` are the point's ``positive.offset`` and
        ``positive.bucket_counts`` (likewise negative). The result is downscaled if needed to fit
        ``max_size`` and ``max_scale``, so it merges with sketches built here.
        """
        if not isinstance(scale, (int, np.integer)) or not MIN_SCALE <= scale <= MAX_SCALE:
            raise ValueError(f"scale: must be an int in [{MIN_SCALE}, {MAX_SCALE}], got {scale!r}")
        if zero_count < 0:
            raise ValueError("zero_count: must be non-negative")
        h = cls(max_size=max_size, max_scale=max_scale, zero_threshold=zero_threshold)
        pos = counts_from_json(list(np.asarray(positive_counts).tolist()), "positive_counts")
        neg = counts_from_json(list(np.asarray(negative_counts).tolist()), "negative_counts")
        h.scale, h.zero_count = int(scale), int(zero_count)
        h._pos, h._neg = _trim(int(positive_offset), pos), _trim(int(negative_offset), neg)
        h.sum = float(sum)
        h.min = math.nan if min is None else float(min)
        h.max = math.nan if max is None else float(max)
        h._fit(h.scale - max_scale if h.scale > max_scale else 0)
        return h

    def _fit(self, at_least: int = 0) -> None:
        """Downscale by the least change (>= at_least) that fits both ranges into max_size."""
        change = at_least
        for b in (self._pos, self._neg):
            if b.counts.size:
                lo, hi = b.offset >> change, (b.offset + b.counts.size - 1) >> change
                change += _scale_change(lo, hi, self.max_size)
        if change:
            self.scale -= change
            self._pos, self._neg = _downscale(self._pos, change), _downscale(self._neg, change)

    # ---------------------------------------------------------------- updates
    def update(self, x: float) -> None:
        """Record one number; ``TypeError`` for strings and other non-numbers."""
        self.update_many(np.array([as_float(x, "ExponentialHistogram.update")]))

    def update_many(self, xs: npt.ArrayLike) -> None:
        """Record many numbers at once (list or array of any real dtype), vectorised."""
        x = as_float_array(xs, "ExponentialHistogram.update_many")
        if x.size == 0:
            return
        if not (math.isfinite(x.min()) and math.isfinite(x.max())):
            finite = np.isfinite(x)
            nans = int(np.count_nonzero(np.isnan(x)))
            pos = int(np.count_nonzero(x == np.inf))
            self.nan_count += nans
            self.posinf_count += pos
            self.neginf_count += x.size - nans - pos - int(np.count_nonzero(finite))
            x = x[finite]
            if x.size == 0:
                return
        self.sum += float(x.sum())
        lo, hi = float(x.min()), float(x.max())
        self.min = lo if not lo >= self.min else self.min
        self.max = hi if not hi <= self.max else self.max
        t = self.zero_threshold
        if lo > t:  # all positive: no masks, no copies
            xp, xn = x, x[:0]
        elif hi < -t:
            xp, xn = x[:0], x
        else:
            xp, xn = x[x > t], x[x < -t]
        self.zero_count += x.size - xp.size - xn.size
        small = x.size < _SMALL_BATCH
        sides = [
            _Side(v, neg, self.scale, small) if v.size else None
            for v, neg in ((xp, False), (xn, True))
        ]
        # Find the least downscale that fits old and new indices together, then bin once.
        change = 0
        for b, side in zip((self._pos, self._neg), sides, strict=True):
            los, his = [], []
            if b.counts.size:
                los.append(b.offset)
                his.append(b.offset + b.counts.size - 1)
            if side is not None:
                los.append(side.first)
                his.append(side.last)
            if los:
                change += _scale_change(min(los) >> change, max(his) >> change, self.max_size)
        if change:
            self.scale -= change
            self._pos, self._neg = _downscale(self._pos, change), _downscale(self._neg, change)
        if sides[0] is not None:
            self._pos = _add(self._pos, sides[0].buckets(change, self.scale))
        if sides[1] is not None:
            self._neg = _add(self._neg, sides[1].buckets(change, self.scale))

    # ---------------------------------------------------------------- merging
    def merge(self, other: ExponentialHistogram) -> ExponentialHistogram:
        """Return a new histogram holding both, at the common (lower) scale that fits."""
        if not isinstance(other, ExponentialHistogram):
            raise TypeError(f"cannot merge ExponentialHistogram with {type(other).__name__}")
        if self.zero_threshold != other.zero_threshold:
            raise ValueError("zero_threshold: cannot merge histograms with different thresholds")
        out = ExponentialHistogram(
            min(self.max_size, other.max_size),
            min(self.max_scale, other.max_scale),
            self.zero_threshold,
        )
        out.scale = min(self.scale, other.scale, out.max_scale)
        da, db = self.scale - out.scale, other.scale - out.scale
        out._pos = _add(_downscale(self._pos, da), _downscale(other._pos, db))
        out._neg = _add(_downscale(self._neg, da), _downscale(other._neg, db))
        out._fit()
        out.zero_count = self.zero_count + other.zero_count
        out.sum = self.sum + other.sum
        out.min = float(np.fmin(self.min, other.min))
        out.max = float(np.fmax(self.max, other.max))
        out.nan_count = self.nan_count + other.nan_count
        out.posinf_count = self.posinf_count + other.posinf_count
        out.neginf_count = self.neginf_count + other.neginf_count
        return out

    __add__ = merge

    def copy(self) -> ExponentialHistogram:
        """Return an independent copy."""
        return self.merge(ExponentialHistogram(self.max_size, self.max_scale, self.zero_threshold))

    # ---------------------------------------------------------------- projection
    def _bucket_bounds(self, b: Buckets) -> tuple[npt.NDArray[np.float64], ...]:
        idx = b.offset + np.arange(b.counts.size, dtype=np.int64)
        lo, hi = lower_boundary(idx, self.scale), lower_boundary(idx + 1, self.scale)
        # Geometric midpoint of (base**i, base**(i+1)] is the boundary 2i+1 one scale finer.
        mid = lower_boundary(2 * idx + 1, self.scale + 1)
        return lo, hi, mid

    def project(self, edges: npt.ArrayLike) -> FixedHistogram:
        """Return the histogram on fixed ``edges``, each bucket assigned wholly by its midpoint.

        A bucket goes entirely to the bin holding its geometric midpoint ``base**(i + 1/2)``
        (the zero bucket to the bin holding 0). Only buckets that straddle an edge can put
        values in the wrong bin; :meth:`projection_error_bound` counts them. ``sum``, ``min``,
        ``max`` and the NaN/inf counts carry over unchanged.
        """
        h = FixedHistogram(edges)
        counts = np.zeros_like(h.counts)
        e = h.edges
        for b, sign in ((self._pos, 1.0), (self._neg, -1.0)):
            if b.counts.size:
                _, _, mid = self._bucket_bounds(b)
                np.add.at(counts, np.searchsorted(e, sign * mid, side="left"), b.counts)
        counts[np.searchsorted(e, 0.0, side="left")] += self.zero_count
        return FixedHistogram.from_counts(
            e,
            counts,
            sum=self.sum,
            min=self.min,
            max=self.max,
            nan_count=self.nan_count,
            posinf_count=self.posinf_count,
            neginf_count=self.neginf_count,
        )

    def projection_error_bound(self, edges: npt.ArrayLike) -> int:
        """Return the most values that :meth:`project` onto ``edges`` can put in a wrong bin.

        That is the count of the buckets whose values could fall into more than one bin: a
        positive bucket ``(lo, hi]`` with an edge ``lo < e < hi``, a negative bucket
        ``[-hi, -lo)`` with an edge ``-hi <= e < -lo``, and the zero bucket
        ``[-t, t]`` with an edge ``-t <= e < t``.
        """
        e = FixedHistogram(edges).edges
        bound = 0
        for b, sign in ((self._pos, 1.0), (self._neg, -1.0)):
            if b.counts.size:
                lo, hi, _ = self._bucket_bounds(b)
                if sign > 0:
                    split = np.searchsorted(e, lo, "right") < np.searchsorted(e, hi, "left")
                else:
                    split = np.searchsorted(e, -hi, "left") < np.searchsorted(e, -lo, "left")
                bound += int(b.counts[split].sum())
        t = self.zero_threshold
        if t > 0 and np.searchsorted(e, -t, "left") < np.searchsorted(e, t, "left"):
            bound += self.zero_count
        return bound

    # ---------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (see ``docs/sketches.md``)."""
        return {
            "format": FORMAT_VERSION,
            "type": _TYPE,
            "max_size": self.max_size,
            "max_scale": self.max_scale,
            "zero_threshold": self.zero_threshold,
            "scale": self.scale,
            "zero_count": self.zero_count,
            "positive": {"offset": self._pos.offset, "counts": self._pos.counts.tolist()},
            "negative": {"offset": self._neg.offset, "counts": self._neg.counts.tolist()},
            "sum": float_to_json(self.sum),
            "min": float_to_json(self.min),
            "max": float_to_json(self.max),
            "nan_count": self.nan_count,
            "posinf_count": self.posinf_count,
            "neginf_count": self.neginf_count,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExponentialHistogram:
        """Return the histogram that ``to_dict`` wrote; ``ValueError`` naming a bad field."""
        check_header(d, _TYPE)
        ranges = []
        for name in ("positive", "negative"):
            r = field(d, name)
            if not isinstance(r, Mapping):
                raise ValueError(f"{name}: expected a mapping with offset and counts")
            off = field(r, "offset")
            if isinstance(off, bool) or not isinstance(off, int):
                raise ValueError(f"{name}.offset: expected an int")
            ranges.append((off, counts_from_json(field(r, "counts"), f"{name}.counts")))
        max_size = int_field(d, "max_size", minimum=2)
        max_scale = int_field(d, "max_scale", minimum=MIN_SCALE)
        scale = int_field(d, "scale", minimum=MIN_SCALE)
        if scale > max_scale:
            raise ValueError("scale: must not exceed max_scale")
        h = cls.from_otel(
            scale,
            int_field(d, "zero_count"),
            ranges[0][0],
            ranges[0][1],
            ranges[1][0],
            ranges[1][1],
            sum=float_from_json(d, "sum"),
            min=float_from_json(d, "min"),
            max=float_from_json(d, "max"),
            zero_threshold=float_from_json(d, "zero_threshold"),
            max_size=max_size,
            max_scale=max_scale,
        )
        h.nan_count = int_field(d, "nan_count")
        h.posinf_count = int_field(d, "posinf_count")
        h.neginf_count = int_field(d, "neginf_count")
        return h

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExponentialHistogram):
            return NotImplemented
        return (
            self.max_size == other.max_size
            and self.max_scale == other.max_scale
            and self.zero_threshold == other.zero_threshold
            and self.scale == other.scale
            and self.zero_count == other.zero_count
            and self._pos.offset == other._pos.offset
            and np.array_equal(self._pos.counts, other._pos.counts)
            and self._neg.offset == other._neg.offset
            and np.array_equal(self._neg.counts, other._neg.counts)
            and same_float(self.sum, other.sum)
            and same_float(self.min, other.min)
            and same_float(self.max, other.max)
            and self.nan_count == other.nan_count
            and self.posinf_count == other.posinf_count
            and self.neginf_count == other.neginf_count
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"ExponentialHistogram(scale={self.scale}, zero_count={self.zero_count}, "
            f"positive=({self._pos.offset}, {self._pos.counts.tolist()}), "
            f"negative=({self._neg.offset}, {self._neg.counts.tolist()}), sum={self.sum!r}, "
            f"min={self.min!r}, max={self.max!r})"
        )


class _Side:
    """One sign's values of a batch, with the bucket indices of its extreme magnitudes.

    The index is monotone in the magnitude, so the extremes give the index range, and the
    final scale is settled before any value is binned. Small batches are mapped whole by
    :func:`map_to_index` at once (and shifted if the scale drops); large ones are counted
    from their bit patterns at the final scale.
    """

    def __init__(self, v: npt.NDArray[np.float64], negative: bool, scale: int, small: bool) -> None:
        self.v, self.negative = v, negative
        self.idx: _I64 | None = None
        if small:
            self.idx = map_to_index(-v if negative else v, scale)
            self.first, self.last = int(self.idx.min()), int(self.idx.max())
            return
        lo, hi = float(v.min()), float(v.max())
        self.lo, self.hi = (-hi, -lo) if negative else (lo, hi)
        self.first, self.last = index_range(self.lo, self.hi, scale)

    def buckets(self, change: int, scale: int) -> Buckets:
        """Return the counts at ``scale``, which is ``change`` below the one given at first."""
        if self.idx is not None:
            return _bincount(self.idx >> change)
        indexer = BitIndexer(scale, self.lo, self.hi, negative=self.negative)
        return Buckets(indexer.offset, indexer.counts(self.v))


def _bincount(idx: _I64) -> Buckets:
    if idx.size == 0:
        return Buckets(0, np.zeros(0, dtype=np.int64))
    lo = int(idx.min())
    return Buckets(lo, np.bincount(idx - lo).astype(np.int64))
