"""Bucket indices of the base-2 exponential histogram: the reference mapping and a fast counter.

:func:`map_to_index` and :func:`lower_boundary` define the buckets. :class:`BitIndexer` gives the
same indices for a large batch from the float64 bit pattern alone (integer subtract, shift and a
small table), so ``update_many`` needs no ``frexp``/``log2`` pass. It relies on two facts: the
bits of same-signed floats are ordered like their magnitudes, and ``(bits - 1) >> 52`` is the
bucket index at scale 0 up to a constant (an exact power of two borrows from its exponent field,
so it lands at the top of the octave below, as the upper-inclusive buckets want).
"""

from __future__ import annotations

import bisect
import math
import struct

import numpy as np
import numpy.typing as npt

_MIN_NORMAL = float(np.finfo(np.float64).smallest_normal)
_MIN_NORMAL_BITS = 1 << 52
_SIGN_BIT = 1 << 63
_NEVER = np.uint64(2**64 - 1)  # no float's bits exceed it: "no boundary in this cell"
# Batches are cut into chunks whose temporaries stay in the L2 cache: about twice as fast as
# whole-array passes over 1M values, measured by benchmarks/bench_sketches.py.
_CHUNK = 1 << 15

_I64 = npt.NDArray[np.int64]
_U64 = npt.NDArray[np.uint64]


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


# map_to_index trusts log2 further than this from a boundary (in index units); the scalar path
# hands anything within it to map_to_index, so the two agree bit for bit whatever the libm.
_SCALAR_MARGIN = 1e-6


def map_to_index_scalar(values: list[float], scale: int) -> list[int]:
    """Return ``map_to_index(values, scale)`` as a list, one value at a time.

    For a few dozen values plain float arithmetic beats ``map_to_index``'s fixed cost of a
    dozen array calls. Away from bucket boundaries ``math.log2`` and ``np.log2`` floor alike
    (their ulp-level difference is far below the margin); the rare value near a boundary, and
    every exact power of two, goes through :func:`map_to_index` itself.
    """
    frexp, log2 = math.frexp, math.log2
    if scale <= 0:
        shift = -scale
        out = []
        for v in values:
            m, e = frexp(v if v >= _MIN_NORMAL else _MIN_NORMAL)
            out.append((e - 1 - (m == 0.5)) >> shift)
        return out
    n = 1 << scale
    out, near = [], []
    for k, v in enumerate(values):
        m, e = frexp(v if v >= _MIN_NORMAL else _MIN_NORMAL)
        t = (log2(m) + 1.0) * n
        j = int(t)
        if not _SCALAR_MARGIN <= t - j <= 1.0 - _SCALAR_MARGIN:
            near.append(k)
        out.append(((e - 1) << scale) + j)
    if near:
        exact = map_to_index([values[k] for k in near], scale).tolist()
        for k, i in zip(near, exact, strict=True):
            out[k] = i
    return out


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


def _bits(v: float) -> int:
    return int.from_bytes(struct.pack("<d", v), "little")


def _boundary_bits(index: _I64, scale: int) -> _I64:
    """Return the bit patterns of ``lower_boundary(index, scale)`` for ``scale > 0``, cheaply.

    Adding the octave to the exponent field is what ``ldexp`` does for a normal result, so the
    bits are identical there; at the two ends (octave -1023 or 1024) they are an ordered
    stand-in (below the smallest normal, above the largest float), which is all that the
    comparisons need: values are clamped to normal magnitudes.
    """
    octave = index >> scale
    frac = index - (octave << scale)
    bits: _I64 = np.exp2(frac / (1 << scale)).view(np.int64)
    bits += octave << 52
    return bits


def index_range(lo: float, hi: float, scale: int) -> tuple[int, int]:
    """Return the bucket indices of magnitudes ``lo <= hi`` at ``scale``, as :func:`map_to_index`.

    Costs a few scalar operations instead of :func:`map_to_index`'s dozen array calls: at
    ``scale <= 0`` the index comes from the bits; above, ``log2`` gives it to within one (its
    error times ``2**20`` is below 1e-6 index units) and the boundaries around it decide.
    """
    ends = (_bits(max(lo, _MIN_NORMAL)), _bits(max(hi, _MIN_NORMAL)))
    if scale <= 0:
        first, last = ((((b - 1) >> 52) - 1023) >> -scale for b in ends)
        return first, last
    n = float(1 << scale)
    guess = [math.floor(math.log2(max(v, _MIN_NORMAL)) * n) - 2 for v in (lo, hi)]
    near = _boundary_bits(np.add.outer(guess, np.arange(5)), scale).tolist()
    first, last = (
        g + bisect.bisect_left(row, b) - 1 for g, row, b in zip(guess, near, ends, strict=True)
    )
    return first, last


def smallest_magnitudes(values: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Return the least magnitude of the positive and of the negative ``values`` (inf if none).

    Zeros of either sign count as neither. Subtracting the bits of the smallest positive
    (resp. negative) float wraps everything else above the wanted range, so one unsigned
    minimum per sign finds each, without masks or copies.
    """
    u = values.reshape(-1).view(np.uint64)
    m = max(1, min(u.size, _CHUNK))
    buf = np.empty(m, np.uint64)
    best = [2**64 - 1, 2**64 - 1]
    for start in range(0, u.size, m):
        n = min(m, u.size - start)
        for side, first in enumerate((1, _SIGN_BIT + 1)):
            np.subtract(u[start : start + n], np.uint64(first), out=buf[:n])
            best[side] = min(best[side], int(buf[:n].min()))
    pos, neg = (_from_bits(b + 1) if b < _SIGN_BIT - 1 else math.inf for b in best)
    return pos, neg


def _from_bits(b: int) -> float:
    value: float = struct.unpack("<d", b.to_bytes(8, "little"))[0]
    return value


class BitIndexer:
    """Bucket indices (relative to ``offset``) of one batch of same-signed values, from their bits.

    Built for a batch whose magnitudes lie in ``[lo, hi]`` (finite, non-zero; subnormals share
    the smallest normal's bucket), all positive or all negative. ``offset`` is the index of
    ``lo`` and ``size`` the number of buckets up to ``hi``'s. Every index equals
    :func:`map_to_index` of the magnitude.

    At ``scale <= 0`` a bucket is a run of whole octaves: the index is ``(bits - c) >> shift``.
    At ``scale > 0`` the range ``[lo, hi]`` of bit patterns is cut into cells half as wide as
    the narrowest bucket, so a cell holds at most one bucket boundary (those of
    :func:`lower_boundary`, compared as bit patterns). A value's index is then the index at its
    cell's start, plus one if it lies above the boundary inside the cell. The table has two
    cells per bucket of the batch's range, so it stays small when the caller has first
    downscaled to fit ``max_size``.
    """

    def __init__(self, scale: int, lo: float, hi: float, *, negative: bool = False) -> None:
        sign = _SIGN_BIT if negative else 0
        self._clamp = np.uint64(sign + _MIN_NORMAL_BITS) if lo < _MIN_NORMAL else None
        lo, hi = max(lo, _MIN_NORMAL), max(hi, _MIN_NORMAL)
        self.offset, last = index_range(lo, hi, scale)
        self._scale = scale
        self.size = last - self.offset + 1
        self._t1: _I64 | None = None
        self._t2: _U64 | None = None
        if scale <= 0:
            octave = 1023 + (self.offset << -scale)  # biased exponent where index `offset` starts
            self._sub = np.uint64((sign + 1 + (octave << 52)) % 2**64)
            self._shift = np.uint64(52 - scale)
            return
        # Magnitudes' bits are < 2**63: int64 keeps searchsorted simple.
        bound_bits = _boundary_bits(np.arange(self.offset, self.offset + self.size + 1), scale)
        shift = 51 - scale  # a cell is half the narrowest bucket (2**(1/n) - 1 > 1/(2n))
        while True:
            first_cell, last_cell = _bits(lo) >> shift, _bits(hi) >> shift
            starts = np.arange(first_cell, last_cell + 1, dtype=np.int64) << shift
            below = np.searchsorted(bound_bits, starts, side="left")
            upto = np.searchsorted(bound_bits, starts + ((1 << shift) - 1), side="right")
            if np.all(upto - below <= 1):
                break
            shift -= 1  # cannot happen unless exp2 were off by far more than an ulp
        self._sub = np.uint64(sign + (first_cell << shift))
        self._shift = np.uint64(shift)
        self._t1 = (below - 1).astype(np.int64)
        inside = np.append(bound_bits, 0)[below].astype(np.uint64) + np.uint64(sign)
        self._t2 = np.where(upto > below, inside, _NEVER)

    def _prepare(self, values: npt.NDArray[np.float64]) -> _U64:
        u = values.view(np.uint64)
        if self._clamp is not None:
            # Same sign bit throughout, so an unsigned maximum clamps the magnitude.
            u = np.maximum(u, self._clamp)
        return u

    def _relative(
        self, u: _U64, key: _U64, bound: _U64, gt: npt.NDArray[np.bool_], out: _I64
    ) -> _I64:
        np.subtract(u, self._sub, out=key)  # wraps modulo 2**64; the true difference is >= 0
        np.right_shift(key, self._shift, out=key)
        k = key.view(np.int64)
        if self._t1 is None or self._t2 is None:
            return k
        np.take(self._t2, k, out=bound, mode="clip")  # mode="clip" avoids a buffered copy
        np.greater(u, bound, out=gt)
        np.take(self._t1, k, out=out, mode="clip")
        out += gt
        return out

    def counts(self, values: npt.NDArray[np.float64]) -> _I64:
        """Return the ``size`` bucket counts of ``values`` (float64, within ``[lo, hi]``)."""
        u = self._prepare(values.reshape(-1))
        m = max(1, min(u.size, _CHUNK))
        key, bound = np.empty(m, np.uint64), np.empty(m, np.uint64)
        gt, rel = np.empty(m, np.bool_), np.empty(m, np.int64)
        out = np.zeros(self.size, dtype=np.int64)
        for start in range(0, u.size, m):
            n = min(m, u.size - start)
            r = self._relative(u[start : start + n], key[:n], bound[:n], gt[:n], rel[:n])
            out += np.bincount(r, minlength=self.size)
        return out

    def signed_counts(self, values: npt.NDArray[np.float64]) -> tuple[_I64, _I64]:
        """Return the ``size`` bucket counts of the positive and of the negative ``values``.

        For an indexer of magnitudes (``negative=False``) whose ``lo`` is at least the smallest
        normal: ``values`` (finite float64, either sign, zeros allowed) are indexed by ``|x|``
        in one pass, the sign bit offsetting the table cell into a second half, so no ``abs``
        and no per-sign copies are made. Zeros land in an extra bin, counted in neither result.
        """
        if self._clamp is not None:
            raise ValueError("signed_counts needs an indexer of normal magnitudes")
        size = self.size
        trash = np.array([2 * size], dtype=np.int64)
        if self._t1 is None or self._t2 is None:
            # A bucket is whole octaves: one table entry per biased exponent (m - 1) >> 52,
            # which is 4095 for a zero (m - 1 wraps) and sends it to the trash bin.
            exps = np.arange(2047, dtype=np.int64)
            rel = ((exps - 1023) >> -self._scale) - self.offset
            inside = (rel >= 0) & (rel < size)
            pos, neg = np.where(inside, rel, 2 * size), np.where(inside, rel + size, 2 * size)
            t1 = np.concatenate([pos, np.repeat(trash, 2049), neg, np.repeat(trash, 2049)])
            t2: _U64 | None = None
            sub, shift, stride = np.uint64(1), np.uint64(52), np.uint64(4096)
        else:
            # Cells as in counts(); a zero wraps to a huge cell, clipped to the appended one.
            t1 = np.concatenate([self._t1, trash, self._t1 + size, trash])
            t2 = np.concatenate([self._t2, [_NEVER], self._t2, [_NEVER]])
            sub, shift, stride = self._sub, self._shift, np.uint64(self._t1.size + 1)
        u = values.reshape(-1).view(np.uint64)
        m = max(1, min(u.size, _CHUNK))
        mag, key, sgn = np.empty(m, np.uint64), np.empty(m, np.uint64), np.empty(m, np.uint64)
        bound, gt, rel_buf = np.empty(m, np.uint64), np.empty(m, np.bool_), np.empty(m, np.int64)
        mask, sign_shift = np.uint64(_SIGN_BIT - 1), np.uint64(63)
        out = np.zeros(2 * size + 1, dtype=np.int64)
        for start in range(0, u.size, m):
            n = min(m, u.size - start)
            c, mg, k, sg, r = u[start : start + n], mag[:n], key[:n], sgn[:n], rel_buf[:n]
            np.bitwise_and(c, mask, out=mg)
            np.subtract(mg, sub, out=k)  # a zero wraps to a huge key
            np.right_shift(k, shift, out=k)
            np.right_shift(c, sign_shift, out=sg)
            np.multiply(sg, stride, out=sg)
            k += sg
            ki = k.view(np.int64)
            np.take(t1, ki, out=r, mode="clip")  # mode="clip" avoids a buffered copy
            if t2 is not None:
                b, g = bound[:n], gt[:n]
                np.take(t2, ki, out=b, mode="clip")
                np.greater(mg, b, out=g)
                r += g
            out += np.bincount(r, minlength=2 * size + 1)
        return out[:size], out[size : 2 * size]

    def indices(self, values: npt.NDArray[np.float64]) -> _I64:
        """Return the bucket index of each of ``values`` (float64, within ``[lo, hi]``)."""
        u = self._prepare(values.reshape(-1))
        key, bound = np.empty(u.size, np.uint64), np.empty(u.size, np.uint64)
        rel = self._relative(u, key, bound, np.empty(u.size, np.bool_), np.empty(u.size, np.int64))
        out: _I64 = rel + self.offset
        return out
