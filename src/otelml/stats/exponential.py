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

_TYPE = "exponential_histogram"
MIN_SCALE = -10
"""Below this scale every normal float64 falls into two buckets; OTel's limit too."""
MAX_SCALE = 20
"""The largest scale OTel defines (and the SDK's default ``max_scale``)."""
_MIN_NORMAL = float(np.finfo(np.float64).smallest_normal)

_I64 = npt.NDArray[np.int64]


class Buckets(NamedTuple):
    """One contiguous bucket range: ``counts[j]`` belongs to bucket index ``offset + j``."""

    offset: int
    counts: _I64


def map_to_index(values: npt.ArrayLike, scale: int) -> _I64:
    """Return the bucket index of each positive finite value at ``scale``.

    Index ``i`` satisfies ``lower_boundary(i) < v <= lower_boundary(i + 1)`` exactly (with the
    boundaries as :func:`lower_boundary` computes them), so exact powers of two sit at the top of
    their bucket, and indices at scale ``s`` shifted right by ``k`` equal the indices at
    ``s - k``. Subnormal values share the bucket of the smallest normal value, as in the OTel SDK.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size and v.min() < _MIN_NORMAL:
        v = np.maximum(v, _MIN_NORMAL)
    mant, exp = np.frexp(v)  # v = mant * 2**exp, mant in [0.5, 1); exp is int32
    exp -= 1  # v = (2 * mant) * 2**exp, 2 * mant in [1, 2)
    pow2 = mant == 0.5
    if scale <= 0:
        exp -= pow2
        exp >>= -scale
        return exp.astype(np.int64)
    # Within one octave: j = floor(log2(2 * mant) * 2**scale). log2 is good to ~1 ulp, so only
    # values within 1e-7 of a bucket boundary (in index units) can be off by one; those few are
    # corrected against the same boundaries that lower_boundary() returns. int32 suffices:
    # |exp << 20| < 2**31.
    n = 1 << scale
    t = np.log2(mant)
    t += 1.0
    t *= n
    j = t.astype(np.int32)  # t >= 0, so truncation is floor
    t -= j
    near = np.flatnonzero((t < 1e-7) | (t > 1.0 - 1e-7))
    if near.size:
        jn, mn = j[near], 2.0 * mant[near]
        jn -= mn <= np.exp2(jn / n)
        jn += mn > np.exp2((jn + 1) / n)
        j[near] = jn
    np.clip(j, 0, n - 1, out=j)
    j[pow2] = -1
    exp <<= scale
    exp += j
    return exp.astype(np.int64)


def lower_boundary(index: npt.ArrayLike, scale: int) -> npt.NDArray[np.float64]:
    """Return ``base ** index`` at ``scale`` (the exclusive lower edge of bucket ``index``)."""
    i = np.asarray(index, dtype=np.int64)
    with np.errstate(over="ignore", under="ignore"):
        if scale <= 0:
            b: npt.NDArray[np.float64] = np.ldexp(1.0, (i << -scale).clip(-1100, 1100))
            return b
        octave = i >> scale
        b = np.ldexp(np.exp2((i - (octave << scale)) / (1 << scale)), octave.clip(-1100, 1100))
        return b


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
            xp, xn = x[:0], -x
        else:
            xp, xn = x[x > t], -x[x < -t]
        self.zero_count += x.size - xp.size - xn.size
        ip, ineg = map_to_index(xp, self.scale), map_to_index(xn, self.scale)
        # Find the least downscale that fits old and new indices together, then bin once.
        change = 0
        for b, idx in ((self._pos, ip), (self._neg, ineg)):
            los, his = [], []
            if b.counts.size:
                los.append(b.offset)
                his.append(b.offset + b.counts.size - 1)
            if idx.size:
                los.append(int(idx.min()))
                his.append(int(idx.max()))
            if los:
                change += _scale_change(min(los) >> change, max(his) >> change, self.max_size)
        if change:
            self.scale -= change
            self._pos, self._neg = _downscale(self._pos, change), _downscale(self._neg, change)
            ip, ineg = ip >> change, ineg >> change
        self._pos = _add(self._pos, _bincount(ip))
        self._neg = _add(self._neg, _bincount(ineg))

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


def _bincount(idx: _I64) -> Buckets:
    if idx.size == 0:
        return Buckets(0, np.zeros(0, dtype=np.int64))
    lo = int(idx.min())
    return Buckets(lo, np.bincount(idx - lo).astype(np.int64))
