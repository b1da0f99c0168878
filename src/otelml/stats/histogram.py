"""A mergeable histogram on fixed, upper-inclusive edges (the OTel explicit-bucket layout)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from otelml.stats._sketch import (
    FORMAT_VERSION,
    as_float,
    as_float_array,
    check_header,
    counts_from_json,
    drop_nonfinite,
    field,
    merge_summary,
    same_summary,
    summary_from_json,
    summary_to_json,
)

_TYPE = "fixed_histogram"
# Up to this many edges, one comparison pass per edge beats the lookup table (both beat a
# binary search per value several times over); measured by benchmarks/bench_sketches.py.
_COMPARE_MAX_EDGES = 20
# Below this many values, np.searchsorted's two calls cost less than setting up either.
_SMALL_BATCH = 2048
# Batches are cut into chunks whose temporaries stay in the L2 cache: about twice as fast as
# whole-array passes over 1M values.
_CHUNK = 1 << 15
# Cells of the lookup table used for more edges (each cell must hold at most one edge).
_LUT_CELLS = (4096, 16384, 65536)


def _check_edges(edges: Any) -> npt.NDArray[np.float64]:
    e = np.array(edges, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(e)):
        raise ValueError("edges: must be finite")
    if e.size > 1 and not np.all(e[1:] > e[:-1]):
        raise ValueError("edges: must be strictly increasing")
    e.flags.writeable = False
    return e


class _BinLookup:
    """Exact bin counts of finite values by table lookup: two gathers instead of a binary search.

    The range [e0, e_last] is cut into equal cells small enough that each cell (widened by a
    slack above float rounding) holds at most one edge. A value's bin is then
    ``below[cell] + (x > inside[cell])``: the edges at or below the cell's start, plus the one
    edge inside it if the value lies above that edge. Values are clipped into [e0, e_last]
    to find their cell (the comparison uses the value itself); one extra cell past the last
    catches e_last, whose computed cell may round up to ``cells``.
    """

    def __init__(self, edges: npt.NDArray[np.float64]) -> None:
        self.ok = False
        lo, hi = float(edges[0]), float(edges[-1])
        eps = np.finfo(np.float64).eps
        for cells in _LUT_CELLS:
            width = (hi - lo) / cells
            if not (math.isfinite(width) and width > 0):
                return
            slack = 1e-6 * width + 16 * eps * max(abs(lo), abs(hi))
            if slack > 0.25 * width:
                return
            starts = lo + np.arange(cells + 1) * width
            below = np.searchsorted(edges, starts - slack, side="right")
            upto = np.searchsorted(edges, starts + width + slack, side="right")
            if np.all(upto - below <= 1):
                break
        else:
            return
        padded = np.append(edges, np.inf)
        self.lo, self.hi, self.inv_width = lo, hi, 1.0 / width
        self.bins = edges.size + 1
        self.below = below.astype(np.intp)
        # A cell without an edge compares against +inf, so it never adds one.
        self.inside = np.where(upto > below, padded[below], np.inf)
        self.ok = True

    def counts(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        m = min(x.size, _CHUNK)
        f, gt = np.empty(m), np.empty(m, dtype=np.bool_)
        cell, idx = np.empty(m, dtype=np.intp), np.empty(m, dtype=np.intp)
        out = np.zeros(self.bins, dtype=np.int64)
        for start in range(0, x.size, m):
            n = min(m, x.size - start)
            xs, c, g, i, ff = x[start : start + n], cell[:n], gt[:n], idx[:n], f[:n]
            np.clip(xs, self.lo, self.hi, out=ff)
            ff -= self.lo
            np.multiply(ff, self.inv_width, out=c, casting="unsafe")  # >= 0: truncation floors
            # mode="clip" with out= avoids take's buffered copy; indices are in range anyway.
            np.take(self.inside, c, out=ff, mode="clip")
            np.greater(xs, ff, out=g)
            np.take(self.below, c, out=i, mode="clip")
            i += g
            out += np.bincount(i, minlength=self.bins)
        return out


def _compare_counts(
    e: npt.NDArray[np.float64], x: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Return bin counts from count(x <= e_i), which is cumulative: no index array at all."""
    m = min(x.size, _CHUNK)
    buf = np.empty(m, dtype=np.bool_)
    edges = e.tolist()
    le = [0] * len(edges)
    for start in range(0, x.size, m):
        xs = x[start : start + m]
        b = buf[: xs.size]
        for j, v in enumerate(edges):
            le[j] += int(np.count_nonzero(np.less_equal(xs, v, out=b)))
    cum = np.array([0, *le, x.size], dtype=np.int64)
    return cum[1:] - cum[:-1]


class FixedHistogram:
    """Counts of values on fixed edges; bins are upper-inclusive like OTel and Prometheus ``le``.

    With strictly increasing finite ``edges`` ``e_0 < ... < e_{k-1}`` there are ``k + 1`` bins:
    ``(-inf, e_0]``, ``(e_{i-1}, e_i]`` and ``(e_{k-1}, +inf)``. NaN and +-inf are not binned but
    counted apart (``nan_count``, ``posinf_count``, ``neginf_count``); ``count``, ``sum``,
    ``min`` and ``max`` cover the finite values only (``min``/``max`` are NaN when there are
    none). No edges at all gives one bin holding every finite value.
    """

    __slots__ = (
        "_lookup",
        "counts",
        "edges",
        "max",
        "min",
        "nan_count",
        "neginf_count",
        "posinf_count",
        "sum",
    )

    def __init__(self, edges: npt.ArrayLike = ()) -> None:
        self.edges: npt.NDArray[np.float64] = _check_edges(edges)
        self.counts: npt.NDArray[np.int64] = np.zeros(self.edges.size + 1, dtype=np.int64)
        self.sum = 0.0
        self.min = math.nan
        self.max = math.nan
        self.nan_count = 0
        self.posinf_count = 0
        self.neginf_count = 0
        self._lookup: _BinLookup | None = None

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_counts(
        cls,
        edges: npt.ArrayLike,
        counts: npt.ArrayLike,
        *,
        sum: float = 0.0,  # shadows the builtin: mirrors the OTel field name
        min: float = math.nan,
        max: float = math.nan,
        nan_count: int = 0,
        posinf_count: int = 0,
        neginf_count: int = 0,
    ) -> FixedHistogram:
        """Return a histogram holding given bucket counts, e.g. from an OTel explicit-bucket point.

        ``counts`` has ``len(edges) + 1`` non-negative integers (OTel ``bucket_counts`` with
        ``explicit_bounds = edges``).
        """
        h = cls(edges)
        c = np.asarray(counts)
        if c.dtype.kind not in "iu" and not (c.size == 0 or np.all(c == np.round(c))):
            raise ValueError("counts: must be integers")
        c = c.astype(np.int64).reshape(-1)
        if c.shape[0] != h.counts.shape[0]:
            raise ValueError(f"counts: expected {h.counts.shape[0]} counts, got {c.shape[0]}")
        if c.size and c.min() < 0:
            raise ValueError("counts: must be non-negative")
        for name, v in (("nan_count", nan_count), ("posinf_count", posinf_count)):
            if v < 0:
                raise ValueError(f"{name}: must be non-negative")
        if neginf_count < 0:
            raise ValueError("neginf_count: must be non-negative")
        h.counts = c.copy()
        h.sum, h.min, h.max = float(sum), float(min), float(max)
        h.nan_count, h.posinf_count, h.neginf_count = nan_count, posinf_count, neginf_count
        return h

    @property
    def count(self) -> int:
        """Number of finite values recorded."""
        return int(self.counts.sum())

    # ---------------------------------------------------------------- updates
    def update(self, x: float) -> None:
        """Record one number (bool, int or float); ``TypeError`` for anything else."""
        v = as_float(x, "FixedHistogram.update")
        if math.isnan(v):
            self.nan_count += 1
        elif v == math.inf:
            self.posinf_count += 1
        elif v == -math.inf:
            self.neginf_count += 1
        else:
            self.counts[bisect.bisect_left(self.edges.tolist(), v)] += 1
            self.sum += v
            self.min = v if not v >= self.min else self.min  # NaN-safe: first value wins
            self.max = v if not v <= self.max else self.max

    def update_many(self, xs: npt.ArrayLike) -> None:
        """Record many numbers at once (list or array of any real dtype), vectorised."""
        x = as_float_array(xs, "FixedHistogram.update_many")
        if x.size == 0:
            return
        lo, hi = x.min(), x.max()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            # Rare path: count NaN/inf apart, bin the finite rest.
            x = drop_nonfinite(self, x)
            if x.size == 0:
                return
            lo, hi = x.min(), x.max()
        self.counts += self._bin_counts(x)
        self.sum += float(x.sum())
        self.min = float(lo) if not lo >= self.min else self.min
        self.max = float(hi) if not hi <= self.max else self.max

    def _bin_counts(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        e = self.edges
        k = e.size
        if k == 0:
            return np.array([x.size], dtype=np.int64)
        if x.size >= _SMALL_BATCH:
            if k <= _COMPARE_MAX_EDGES:
                return _compare_counts(e, x)
            if self._lookup is None:
                self._lookup = _BinLookup(e)
            if self._lookup.ok:
                return self._lookup.counts(x)
        idx = np.searchsorted(e, x, side="left")
        return np.bincount(idx, minlength=k + 1).astype(np.int64, copy=False)

    # ---------------------------------------------------------------- merging
    def merge(self, other: FixedHistogram) -> FixedHistogram:
        """Return a new histogram holding both; the edges must be identical."""
        if not isinstance(other, FixedHistogram):
            raise TypeError(f"cannot merge FixedHistogram with {type(other).__name__}")
        # Histograms of one layout usually share their edges object: no numpy call needed then.
        if self.edges is not other.edges and not np.array_equal(self.edges, other.edges):
            raise ValueError("edges: cannot merge histograms with different edges")
        out = FixedHistogram.__new__(FixedHistogram)
        out.edges, out.counts, out._lookup = self.edges, self.counts + other.counts, self._lookup
        merge_summary(out, self, other)
        return out

    __add__ = merge

    def copy(self) -> FixedHistogram:
        """Return an independent copy (the read-only edges are shared)."""
        out = FixedHistogram.__new__(FixedHistogram)
        out.edges, out.counts = self.edges, self.counts.copy()
        out.sum, out.min, out.max = self.sum, self.min, self.max
        out.nan_count, out.posinf_count = self.nan_count, self.posinf_count
        out.neginf_count, out._lookup = self.neginf_count, self._lookup
        return out

    # ---------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (see ``docs/sketches.md``)."""
        return {
            "format": FORMAT_VERSION,
            "type": _TYPE,
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            **summary_to_json(self),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FixedHistogram:
        """Return the histogram that ``to_dict`` wrote; ``ValueError`` naming a bad field."""
        check_header(d, _TYPE)
        edges = field(d, "edges")
        if not isinstance(edges, (list, tuple)):
            raise ValueError("edges: expected a list of numbers")
        h = cls.from_counts(edges, counts_from_json(field(d, "counts"), "counts", len(edges) + 1))
        summary_from_json(h, d)
        return h

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FixedHistogram):
            return NotImplemented
        return (
            np.array_equal(self.edges, other.edges)
            and np.array_equal(self.counts, other.counts)
            and same_summary(self, other)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"FixedHistogram(edges={self.edges.tolist()}, counts={self.counts.tolist()}, "
            f"sum={self.sum!r}, min={self.min!r}, max={self.max!r}, nan={self.nan_count}, "
            f"+inf={self.posinf_count}, -inf={self.neginf_count})"
        )
