"""Cumulative to delta conversion of OTLP sums and histograms, with reset handling.

A cumulative stream is identified by its resource, scope, metric name, point attributes *and*
start time: OTLP SDKs give each process (and each reset) a new ``start_time_unix_nano``, so a
reset or a restarted replica simply opens a new stream, and replicas that lack a
``service.instance.id`` still never interleave. Within a stream the delta is the difference with
the previous point; a count that decreases, or a bucket layout that changes, is a reset and the
new value is taken whole. A point not newer than the stream's last one (a retry or a duplicate)
gives nothing.

The first point of a stream is taken whole when the stream started after the processor's state
was created (the app started while we were listening), and is only remembered otherwise: what it
counted before we were listening is not ours to place in a window (the Collector's
``cumulativetodelta`` processor calls this ``initial_value: auto``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

_I64: TypeAlias = npt.NDArray[np.int64]


@dataclass(slots=True)
class HistPoint:
    """An explicit-bucket histogram data point (``counts`` has ``len(bounds) + 1`` entries)."""

    bounds: tuple[float, ...]
    counts: _I64
    sum: float
    min: float = math.nan
    max: float = math.nan
    _count: int = -1

    @property
    def count(self) -> int:
        """Return the number of values (computed once)."""
        if self._count < 0:
            self._count = int(self.counts.sum())
        return self._count

    def to_json(self) -> list[Any]:
        """Return a compact JSON-ready form."""
        return ["h", list(self.bounds), self.counts.tolist(), self.sum, _f(self.min), _f(self.max)]


@dataclass(slots=True)
class ExpoPoint:
    """A base-2 exponential histogram data point."""

    scale: int
    zero_count: int
    pos_offset: int
    pos_counts: _I64
    neg_offset: int
    neg_counts: _I64
    sum: float
    min: float = math.nan
    max: float = math.nan
    _count: int = -1

    @property
    def count(self) -> int:
        """Return the number of values (computed once)."""
        if self._count < 0:
            self._count = self.zero_count + int(self.pos_counts.sum()) + int(self.neg_counts.sum())
        return self._count

    def to_json(self) -> list[Any]:
        """Return a compact JSON-ready form."""
        return [
            "e",
            self.scale,
            self.zero_count,
            self.pos_offset,
            self.pos_counts.tolist(),
            self.neg_offset,
            self.neg_counts.tolist(),
            self.sum,
            _f(self.min),
            _f(self.max),
        ]


Value: TypeAlias = "int | HistPoint | ExpoPoint"


def _f(x: float) -> float | None:
    return None if math.isnan(x) else x


def _unf(x: float | None) -> float:
    return math.nan if x is None else float(x)


def value_to_json(v: Value) -> Any:
    """Return a JSON-ready form of a point value."""
    return v if isinstance(v, int) else v.to_json()


def value_from_json(d: Any) -> Value:
    """Return the point value that :func:`value_to_json` described."""
    if isinstance(d, int):
        return d
    if d[0] == "h":
        return HistPoint(
            tuple(d[1]), np.asarray(d[2], dtype=np.int64), float(d[3]), _unf(d[4]), _unf(d[5])
        )
    if d[0] == "e":
        return ExpoPoint(
            int(d[1]),
            int(d[2]),
            int(d[3]),
            np.asarray(d[4], dtype=np.int64),
            int(d[5]),
            np.asarray(d[6], dtype=np.int64),
            float(d[7]),
            _unf(d[8]),
            _unf(d[9]),
        )
    raise ValueError(f"unknown point value {d!r}")


def is_zero(v: Value) -> bool:
    """Return whether a delta carries nothing."""
    return (v == 0) if isinstance(v, int) else v.count == 0


def _downscale(offset: int, counts: _I64, change: int) -> tuple[int, _I64]:
    if change == 0 or counts.size == 0:
        return offset, counts
    idx = (np.arange(counts.size, dtype=np.int64) + offset) >> change
    new_offset = int(idx[0])
    out = np.zeros(int(idx[-1]) - new_offset + 1, dtype=np.int64)
    np.add.at(out, idx - new_offset, counts)
    return new_offset, out


def _sub_buckets(a_off: int, a: _I64, b_off: int, b: _I64) -> tuple[int, _I64] | None:
    """Return a - b on aligned bucket arrays, or None if any bucket would go negative."""
    if b.size == 0:
        return a_off, a
    if a.size == 0:
        return None if b.any() else (a_off, a)
    lo = min(a_off, b_off)
    hi = max(a_off + a.size, b_off + b.size)
    out = np.zeros(hi - lo, dtype=np.int64)
    out[a_off - lo : a_off - lo + a.size] += a
    out[b_off - lo : b_off - lo + b.size] -= b
    if (out < 0).any():
        return None
    return lo, out


def subtract(cur: Value, prev: Value) -> Value | None:
    """Return ``cur - prev`` for two cumulative points, or None when ``cur`` is a reset."""
    if isinstance(cur, int):
        if not isinstance(prev, int) or cur < prev:
            return None
        return cur - prev
    if isinstance(cur, HistPoint):
        if not isinstance(prev, HistPoint) or cur.bounds != prev.bounds:
            return None
        n = cur.count - prev.count
        if n < 0:
            return None
        d = cur.counts - prev.counts
        if n == 0 and not d.any():
            return HistPoint(cur.bounds, d, 0.0, _count=0)
        if (d < 0).any():
            return None
        # A delta's min and max are unknown: the cumulative ones span the whole stream.
        return HistPoint(cur.bounds, d, cur.sum - prev.sum, _count=n)
    if (
        not isinstance(prev, ExpoPoint)
        or prev.scale < cur.scale
        or prev.zero_count > cur.zero_count
    ):
        return None
    change = prev.scale - cur.scale
    pos = _sub_buckets(
        cur.pos_offset, cur.pos_counts, *_downscale(prev.pos_offset, prev.pos_counts, change)
    )
    neg = _sub_buckets(
        cur.neg_offset, cur.neg_counts, *_downscale(prev.neg_offset, prev.neg_counts, change)
    )
    if pos is None or neg is None:
        return None
    return ExpoPoint(
        cur.scale, cur.zero_count - prev.zero_count, pos[0], pos[1], neg[0], neg[1],
        cur.sum - prev.sum,
    )  # fmt: skip


SKIP, TAKE, DIFF = range(3)
"""What :meth:`TemporalityTracker.advance` says a cumulative point adds."""


class StreamsFull(Exception):
    """A new cumulative stream beyond the tracked-streams cap."""


class TemporalityTracker:
    """Last point of every cumulative stream, to turn cumulative points into deltas.

    Parameters
    ----------
    created_ns
        When the processor's state was created; streams that started later are taken whole.
    max_streams
        Tracked streams at most; a point of a further new stream raises :class:`StreamsFull`.
    ttl_s
        Streams not seen for this long are forgotten by :meth:`expire`.
    """

    def __init__(self, created_ns: int, max_streams: int = 200_000, ttl_s: int = 86400) -> None:
        self.created_ns = created_ns
        self.max_streams = max_streams
        self.ttl_ns = ttl_s * 1_000_000_000
        # stream id -> (time_unix_nano of the last point, its cumulative value)
        self._last: OrderedDict[str, tuple[int, Value]] = OrderedDict()
        self.dirty: set[str] = set()
        self.expired: set[str] = set()

    def __len__(self) -> int:
        return len(self._last)

    def delta(self, stream: str, start_ns: int, time_ns: int, value: Value) -> Value | None:
        """Return the delta that a cumulative point adds, or None when it adds nothing."""
        step, prev = self.advance(stream, start_ns, time_ns, value)
        if step == SKIP:
            return None
        if step == DIFF:
            d = subtract(value, prev)
            if d is not None:
                return None if is_zero(d) else d
            # None: a reset inside the stream, the new value is all new
        return None if is_zero(value) else value

    def advance(self, stream: str, start_ns: int, time_ns: int, value: Value) -> tuple[int, Any]:
        """Record a cumulative point and return what it adds, without subtracting.

        Returns ``(SKIP, None)`` (nothing: a duplicate, or the first point of a stream older
        than the state), ``(TAKE, None)`` (the value is all new) or ``(DIFF, previous value)``
        (the delta is ``value - previous``, or all of ``value`` when that is a reset).
        :meth:`delta` is this plus :func:`subtract`; batch conversion subtracts many at once.
        """
        last = self._last
        prev = last.get(stream)
        if prev is None:
            if len(last) >= self.max_streams:
                raise StreamsFull(stream)
            last[stream] = (time_ns, value)
            self.dirty.add(stream)
            if self.expired:
                self.expired.discard(stream)
            return (TAKE if start_ns > 0 and start_ns >= self.created_ns else SKIP), None
        if time_ns <= prev[0]:
            return SKIP, None  # duplicate or out of order (e.g. a retried request)
        last[stream] = (time_ns, value)
        last.move_to_end(stream)
        self.dirty.add(stream)
        if self.expired:
            self.expired.discard(stream)
        return DIFF, prev[1]

    def restore(self, stream: str, time_ns: int, value: Value) -> None:
        """Put back a stream's last point (restart)."""
        self._last[stream] = (time_ns, value)

    def get(self, stream: str) -> tuple[int, Value] | None:
        """Return the last ``(time_ns, value)`` of a stream, if tracked."""
        return self._last.get(stream)

    def expire(self, now_ns: int) -> int:
        """Forget streams whose last point is older than the TTL; return how many."""
        cutoff = now_ns - self.ttl_ns
        n = 0
        # Least recently updated first (move_to_end on every update).
        while self._last:
            stream, (t, _) = next(iter(self._last.items()))
            if t >= cutoff:
                break
            del self._last[stream]
            self.dirty.discard(stream)
            self.expired.add(stream)
            n += 1
        return n

    def take_changes(self) -> tuple[dict[str, tuple[int, Value]], set[str]]:
        """Return (changed streams with their last point, forgotten streams) and reset both."""
        changed = {s: self._last[s] for s in self.dirty if s in self._last}
        expired = set(self.expired)
        self.dirty.clear()
        self.expired.clear()
        return changed, expired
