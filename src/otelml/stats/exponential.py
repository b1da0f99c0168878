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
from typing import Any

import numpy as np
import numpy.typing as npt

from otelml.stats._exp_buckets import (
    Buckets,
    add,
    array_sides,
    downscale,
    project_counts,
    scalar_sides,
    scale_change,
    straddling_count,
    trim,
)
from otelml.stats._exp_index import lower_boundary, map_to_index
from otelml.stats._sketch import (
    FORMAT_VERSION,
    as_float,
    as_float_array,
    check_header,
    counts_from_json,
    drop_nonfinite,
    field,
    float_from_json,
    int_field,
    merge_summary,
    same_summary,
    summary_from_json,
    summary_to_json,
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
# Up to this many values a Python loop (about 1 us a value) beats the array path's fixed cost of
# some 20 numpy calls (about 60 us); both give identical results.
_SCALAR_BATCH = 64


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
        h._pos, h._neg = trim(int(positive_offset), pos), trim(int(negative_offset), neg)
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
                change += scale_change(lo, hi, self.max_size)
        if change:
            self.scale -= change
            self._pos, self._neg = downscale(self._pos, change), downscale(self._neg, change)

    # ---------------------------------------------------------------- updates
    def update(self, x: float) -> None:
        """Record one number; ``TypeError`` for strings and other non-numbers."""
        self.update_many(np.array([as_float(x, "ExponentialHistogram.update")]))

    def update_many(self, xs: npt.ArrayLike) -> None:
        """Record many numbers at once (list or array of any real dtype), vectorised."""
        x = as_float_array(xs, "ExponentialHistogram.update_many")
        if x.size == 0:
            return
        lo, hi = float(x.min()), float(x.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            x = drop_nonfinite(self, x)
            if x.size == 0:
                return
            lo, hi = float(x.min()), float(x.max())
        self.sum += float(x.sum())
        self.min = lo if not lo >= self.min else self.min
        self.max = hi if not hi <= self.max else self.max
        if x.size <= _SCALAR_BATCH:
            sides = scalar_sides(x.tolist(), self.zero_threshold, self.scale)
        else:
            small = x.size < _SMALL_BATCH
            sides = array_sides(x, lo, hi, self.zero_threshold, self.scale, small)
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
                change += scale_change(min(los) >> change, max(his) >> change, self.max_size)
        if change:
            self.scale -= change
            self._pos, self._neg = downscale(self._pos, change), downscale(self._neg, change)
        # Whatever no side binned is in the zero bucket (a joint pass counts both sides at once).
        zeros = x.size
        if sides[0] is not None:
            new = sides[0].buckets(change, self.scale)
            zeros -= int(new.counts.sum())
            self._pos = add(self._pos, new)
        if sides[1] is not None:
            new = sides[1].buckets(change, self.scale)
            zeros -= int(new.counts.sum())
            self._neg = add(self._neg, new)
        self.zero_count += zeros

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
        out._pos = add(downscale(self._pos, da), downscale(other._pos, db))
        out._neg = add(downscale(self._neg, da), downscale(other._neg, db))
        out._fit()
        out.zero_count = self.zero_count + other.zero_count
        merge_summary(out, self, other)
        return out

    __add__ = merge

    def copy(self) -> ExponentialHistogram:
        """Return an independent copy."""
        return self.merge(ExponentialHistogram(self.max_size, self.max_scale, self.zero_threshold))

    # ---------------------------------------------------------------- projection
    def project(self, edges: npt.ArrayLike) -> FixedHistogram:
        """Return the histogram on fixed ``edges``, each bucket assigned wholly by its midpoint.

        A bucket goes entirely to the bin holding its geometric midpoint ``base**(i + 1/2)``
        (the zero bucket to the bin holding 0). Only buckets that straddle an edge can put
        values in the wrong bin; :meth:`projection_error_bound` counts them. ``sum``, ``min``,
        ``max`` and the NaN/inf counts carry over unchanged.
        """
        h = FixedHistogram(edges)
        counts = project_counts(self._pos, self._neg, self.zero_count, self.scale, h.edges)
        return FixedHistogram.from_counts(
            h.edges,
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
        return straddling_count(
            self._pos,
            self._neg,
            self.zero_count,
            self.zero_threshold,
            self.scale,
            FixedHistogram(edges).edges,
        )

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
            **summary_to_json(self),
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
            zero_threshold=float_from_json(d, "zero_threshold"),
            max_size=max_size,
            max_scale=max_scale,
        )
        summary_from_json(h, d)
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
            and same_summary(self, other)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"ExponentialHistogram(scale={self.scale}, zero_count={self.zero_count}, "
            f"positive=({self._pos.offset}, {self._pos.counts.tolist()}), "
            f"negative=({self._neg.offset}, {self._neg.counts.tolist()}), sum={self.sum!r}, "
            f"min={self.min!r}, max={self.max!r})"
        )
