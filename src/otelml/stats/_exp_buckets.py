"""Contiguous bucket ranges of the exponential histogram, and the binning of one batch's sides.

A :class:`Buckets` range holds the counts of consecutive bucket indices. ``update_many`` splits
a batch into its positive and negative magnitudes; :class:`ArraySide` and :class:`ScalarSide`
find each side's index range first (so that the histogram settles its final scale before
binning anything) and then count the side at that scale. A mixed-sign batch (zeros included)
is not split: its two :class:`JointSide` objects share one pass over the magnitudes' bits.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from otelml.stats._exp_index import (
    BitIndexer,
    index_range,
    lower_boundary,
    map_to_index,
    map_to_index_scalar,
    smallest_magnitudes,
)

_I64 = npt.NDArray[np.int64]
_MIN_NORMAL = float(np.finfo(np.float64).smallest_normal)
# A mixed-sign batch is binned in one pass when both signs' buckets together span at most this
# many (the table has two cells per bucket); else each sign is split off and binned alone.
_JOINT_LIMIT = 1 << 14


class Buckets(NamedTuple):
    """One contiguous bucket range: ``counts[j]`` belongs to bucket index ``offset + j``."""

    offset: int
    counts: _I64


def trim(offset: int, counts: _I64) -> Buckets:
    """Return the range without zero counts at either end (offset 0 when all are zero)."""
    nz = np.flatnonzero(counts)
    if nz.size == 0:
        return Buckets(0, np.zeros(0, dtype=np.int64))
    return Buckets(offset + int(nz[0]), counts[nz[0] : nz[-1] + 1].copy())


def downscale(b: Buckets, change: int) -> Buckets:
    """Return ``b`` at ``change`` scales lower: each ``2**change`` buckets become one."""
    if change == 0 or b.counts.size == 0:
        return b
    new = (b.offset + np.arange(b.counts.size, dtype=np.int64)) >> change
    starts = np.flatnonzero(np.diff(new, prepend=new[0] - 1))
    # reduceat keeps int64 (bincount with weights would go through float64).
    return Buckets(int(new[0]), np.add.reduceat(b.counts, starts).astype(np.int64))


def scale_change(lo: int, hi: int, max_size: int) -> int:
    """Return the least downscale after which indices ``lo..hi`` fit ``max_size`` buckets."""
    change = 0
    while hi - lo >= max_size:
        lo, hi, change = lo >> 1, hi >> 1, change + 1
    return change


def add(a: Buckets, b: Buckets) -> Buckets:
    """Return the sum of two ranges at the same scale (an empty one is returned as is)."""
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


class ArraySide:
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
            # first is the least index, so bincount needs no min() pass of its own.
            lo = self.first >> change
            return Buckets(lo, np.bincount((self.idx >> change) - lo).astype(np.int64, copy=False))
        indexer = BitIndexer(scale, self.lo, self.hi, negative=self.negative)
        return Buckets(indexer.offset, indexer.counts(self.v))


class ScalarSide:
    """One sign's magnitudes of a small batch, indexed one by one (see ``map_to_index_scalar``)."""

    def __init__(self, magnitudes: list[float], scale: int) -> None:
        self.idx = map_to_index_scalar(magnitudes, scale)
        self.first, self.last = min(self.idx), max(self.idx)

    def buckets(self, change: int, scale: int) -> Buckets:
        """Return the counts, ``change`` scales below the one the indices were taken at."""
        offset = self.first >> change
        counts = [0] * ((self.last >> change) - offset + 1)
        for i in self.idx:
            counts[(i >> change) - offset] += 1
        return Buckets(offset, np.array(counts, dtype=np.int64))


class _Joint:
    """A mixed-sign batch whose two signs are binned together by magnitude in one pass."""

    def __init__(self, x: npt.NDArray[np.float64], lo: float, hi: float) -> None:
        self.x, self.lo, self.hi = x, lo, hi  # least and greatest non-zero magnitude
        self._scale: int | None = None  # the scale that _pos and _neg were counted at
        self._pos = self._neg = Buckets(0, np.zeros(0, dtype=np.int64))

    def side(self, s: JointSide, scale: int) -> Buckets:
        first, last = index_range(self.lo, self.hi, scale)
        if last - first >= _JOINT_LIMIT:  # signs far apart: one table would be too large
            v = self.x[self.x < 0] if s.negative else self.x[self.x > 0]
            indexer = BitIndexer(scale, s.lo, s.hi, negative=s.negative)
            return Buckets(indexer.offset, indexer.counts(v))
        if self._scale != scale:  # the first side to ask counts both
            indexer = BitIndexer(scale, self.lo, self.hi)
            pos, neg = indexer.signed_counts(self.x)
            self._pos, self._neg = trim(indexer.offset, pos), trim(indexer.offset, neg)
            self._scale = scale
        return self._neg if s.negative else self._pos


class JointSide:
    """One sign of a mixed-sign batch: its index range now, its counts from the shared pass."""

    def __init__(self, joint: _Joint, negative: bool, lo: float, hi: float, scale: int) -> None:
        self.joint, self.negative, self.lo, self.hi = joint, negative, lo, hi
        self.first, self.last = index_range(lo, hi, scale)

    def buckets(self, change: int, scale: int) -> Buckets:
        """Return the counts at ``scale``, which is ``change`` below the one given at first."""
        return self.joint.side(self, scale)


Side = ArraySide | ScalarSide | JointSide


def array_sides(
    x: npt.NDArray[np.float64], lo: float, hi: float, threshold: float, scale: int, small: bool
) -> list[Side | None]:
    """Return both sides of finite ``x`` (extremes ``lo``, ``hi``); zeros are in neither."""
    if lo > threshold:  # all positive: no masks, no copies
        xp, xn = x, x[:0]
    elif hi < -threshold:
        xp, xn = x[:0], x
    elif threshold == 0.0 and not small:
        lo_pos, lo_neg = smallest_magnitudes(x)
        if min(lo_pos, lo_neg) >= _MIN_NORMAL:  # subnormals would need clamping, zeros not
            joint = _Joint(x, min(lo_pos, lo_neg), max(hi, -lo))
            return [
                JointSide(joint, False, lo_pos, hi, scale) if hi > 0 else None,
                JointSide(joint, True, lo_neg, -lo, scale) if lo < 0 else None,
            ]
        xp, xn = x[x > threshold], x[x < -threshold]
    else:
        xp, xn = x[x > threshold], x[x < -threshold]
    return [
        ArraySide(v, neg, scale, small) if v.size else None for v, neg in ((xp, False), (xn, True))
    ]


def scalar_sides(values: list[float], threshold: float, scale: int) -> list[Side | None]:
    """Return the two sides of a few finite ``values``; zeros are in neither."""
    pos = [v for v in values if v > threshold]
    neg = [-v for v in values if v < -threshold]
    return [ScalarSide(m, scale) if m else None for m in (pos, neg)]


def bucket_bounds(b: Buckets, scale: int) -> tuple[npt.NDArray[np.float64], ...]:
    """Return the lower and upper boundaries and geometric midpoints of ``b``'s buckets."""
    idx = b.offset + np.arange(b.counts.size, dtype=np.int64)
    lo, hi = lower_boundary(idx, scale), lower_boundary(idx + 1, scale)
    # Geometric midpoint of (base**i, base**(i+1)] is the boundary 2i+1 one scale finer.
    mid = lower_boundary(2 * idx + 1, scale + 1)
    return lo, hi, mid


def project_counts(
    pos: Buckets, neg: Buckets, zero_count: int, scale: int, edges: npt.NDArray[np.float64]
) -> _I64:
    """Return the counts on fixed ``edges``, each bucket put wholly in its midpoint's bin."""
    counts = np.zeros(edges.size + 1, dtype=np.int64)
    for b, sign in ((pos, 1.0), (neg, -1.0)):
        if b.counts.size:
            _, _, mid = bucket_bounds(b, scale)
            np.add.at(counts, np.searchsorted(edges, sign * mid, side="left"), b.counts)
    counts[np.searchsorted(edges, 0.0, side="left")] += zero_count
    return counts


def straddling_count(
    pos: Buckets,
    neg: Buckets,
    zero_count: int,
    zero_threshold: float,
    scale: int,
    edges: npt.NDArray[np.float64],
) -> int:
    """Return the count of the buckets (zero bucket included) that an edge cuts in two."""
    e = edges
    bound = 0
    for b, sign in ((pos, 1.0), (neg, -1.0)):
        if b.counts.size:
            lo, hi, _ = bucket_bounds(b, scale)
            if sign > 0:
                split = np.searchsorted(e, lo, "right") < np.searchsorted(e, hi, "left")
            else:
                split = np.searchsorted(e, -hi, "left") < np.searchsorted(e, -lo, "left")
            bound += int(b.counts[split].sum())
    t = zero_threshold
    if t > 0 and np.searchsorted(e, -t, "left") < np.searchsorted(e, t, "left"):
        bound += zero_count
    return bound
