"""A uniform reservoir sample that is exact until it fills: the baseline's quantile memory.

A column's values are kept as long as they fit ``capacity``; beyond that the reservoir holds a
uniform sample without replacement of everything seen (Vitter's Algorithm R, vectorised per
chunk). Two reservoirs merge into a uniform sample of the union, so baselines built in parts
(per file, per worker) combine into the same kind of object.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_MIN_BUFFER = 1024


class Reservoir:
    """Uniform sample of at most ``capacity`` rows of parallel arrays (exact while it fits).

    Parameters
    ----------
    capacity : int
        Rows kept at most. While ``seen <= capacity`` every row is kept, in arrival order.
    dtypes : tuple of numpy dtypes
        One per parallel column (e.g. ``(float64,)`` for a feature, ``(float64, object)`` for
        score/label pairs).
    rng : numpy.random.Generator
        Source of randomness; seeded by the caller so baselines are reproducible.
    """

    def __init__(
        self, capacity: int, dtypes: tuple[npt.DTypeLike, ...], rng: np.random.Generator
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.seen = 0
        self._rng = rng
        size = min(capacity, _MIN_BUFFER)
        self._bufs = [np.empty(size, dtype=dt) for dt in dtypes]
        self._n = 0

    @property
    def exact(self) -> bool:
        """True when the reservoir still holds every row it was given."""
        return self.seen <= self.capacity

    def values(self, column: int = 0) -> np.ndarray:
        """Return the kept rows of one column (a view; do not mutate)."""
        return self._bufs[column][: self._n]

    def _append(self, cols: tuple[np.ndarray, ...]) -> None:
        m = len(cols[0])
        need = self._n + m
        if need > len(self._bufs[0]):
            # Grow geometrically so that many small chunks stay amortised O(n).
            size = min(self.capacity, max(need, 2 * len(self._bufs[0])))
            for i, buf in enumerate(self._bufs):
                grown = np.empty(size, dtype=buf.dtype)
                grown[: self._n] = buf[: self._n]
                self._bufs[i] = grown
        for buf, col in zip(self._bufs, cols, strict=True):
            buf[self._n : need] = col
        self._n = need

    def update(self, *cols: np.ndarray) -> None:
        """Offer rows (parallel 1-D arrays of equal length) to the sample."""
        m = len(cols[0])
        room = self.capacity - self._n
        if room > 0:
            take = min(room, m)
            self._append(tuple(c[:take] for c in cols))
            self.seen += take
            cols = tuple(c[take:] for c in cols)
            m -= take
        if m == 0:
            return
        # Algorithm R: the t-th row overall is kept with probability capacity / t and replaces
        # a uniformly chosen slot. Applying the accepted rows in order means the last write to
        # a slot wins, which np.unique on the reversed slot list reproduces exactly.
        t = self.seen + np.arange(1, m + 1, dtype=np.float64)
        accepted = np.flatnonzero(self._rng.random(m) * t < self.capacity)
        if accepted.size:
            slots = self._rng.integers(0, self.capacity, size=accepted.size)
            uniq, first = np.unique(slots[::-1], return_index=True)
            rows = accepted[::-1][first]
            for buf, col in zip(self._bufs, cols, strict=True):
                buf[uniq] = col[rows]
        self.seen += m

    def merge(self, other: Reservoir) -> Reservoir:
        """Return a uniform sample of both inputs' rows (neither input is changed)."""
        if other.capacity != self.capacity:
            raise ValueError("cannot merge reservoirs of different capacity")
        out = Reservoir(self.capacity, tuple(b.dtype for b in self._bufs), self._rng)
        total = self.seen + other.seen
        if total <= self.capacity:
            out._append(tuple(b[: self._n] for b in self._bufs))
            out._append(tuple(b[: other._n] for b in other._bufs))
            out.seen = total
            return out
        # A uniform k-subset of the union takes a hypergeometric number of rows from each side;
        # a uniform subset of a uniform sample is a uniform sample of the population.
        k = self.capacity
        from_self = int(self._rng.hypergeometric(self.seen, other.seen, k))
        pick_self = self._rng.choice(self._n, size=from_self, replace=False)
        pick_other = self._rng.choice(other._n, size=k - from_self, replace=False)
        out._append(tuple(b[pick_self] for b in self._bufs))
        out._append(tuple(b[pick_other] for b in other._bufs))
        out.seen = total
        return out
