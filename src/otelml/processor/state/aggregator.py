"""In-memory aggregation state of the processor: per-series, per-window mergeable sketches.

The :class:`Aggregator` holds one :class:`FeatureWindow` per (:class:`SeriesKey`, resolution
window). Everything that mutates it goes through :meth:`Aggregator.apply`, called by the store's
single writer after the update is durable; readers (evaluator, API, exporters) take merged copies
under the same lock and work on them outside it.

The shared types (:class:`SeriesKey`, :class:`FeatureWindow`, :class:`Update`,
:data:`PREDICTION_FEATURE`) live in :mod:`otelml.processor.state.window` and are re-exported here.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from otelml.processor.state.window import (
    MAX_COUNT,
    OVERFLOW,
    PREDICTION_FEATURE,
    FeatureWindow,
    SeriesKey,
    Update,
    merge_windows,
)

__all__ = [
    "OVERFLOW",
    "PREDICTION_FEATURE",
    "Aggregator",
    "FeatureWindow",
    "Limits",
    "SeriesKey",
    "Update",
    "align",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Cardinality caps the aggregator enforces; beyond them data is relabelled or dropped."""

    max_models: int = 100
    """Distinct (model, version, environment); updates of further ones are dropped."""
    max_features_per_model: int = 500
    """Distinct features per model; further ones are counted under feature ``__overflow__``."""
    max_segments_per_model: int = 100
    """Distinct segments per model; further ones are counted under segment ``__overflow__``."""
    model_idle_s: float = 86400.0
    """When every model slot is taken, a model without a baseline that had no update for this
    long is evicted from memory to make room for a new one."""


OverflowHook = Callable[[str, int], None]


def align(t: float, resolution_s: int) -> int:
    """Return the start (unix seconds) of the resolution window containing time ``t``."""
    return math.floor(t / resolution_s) * resolution_s


class Aggregator:
    """Lock-protected in-memory state: one :class:`FeatureWindow` per series and window.

    Parameters
    ----------
    resolution_s
        Width of a window in seconds; windows start at multiples of it (unix time).
    retention_s
        Windows that start before ``clock() - retention_s`` are dropped by :meth:`prune`.
    limits
        Cardinality caps (see :class:`Limits`).
    clock
        Time source (unix seconds), injected so tests control time.
    on_overflow
        Called as ``on_overflow(limit, n)`` for updates relabelled or dropped by a cap; the
        limit is ``"models"``, ``"features"``, ``"segments"``, ``"categories"`` (occurrences
        counted under ``__other__``) or ``"models_evicted"``.
    has_baseline
        Returns whether a model name has a baseline. Such models are admitted beyond
        ``max_models`` (the registry caps them), so junk names can never crowd them out; a new
        model without one takes the slot of the model without a baseline idle the longest
        (beyond ``model_idle_s``), or is dropped. Settable after construction.
    """

    def __init__(
        self,
        resolution_s: int = 60,
        retention_s: int = 7 * 86400,
        *,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
        on_overflow: OverflowHook | None = None,
        has_baseline: Callable[[str], bool] | None = None,
    ) -> None:
        if resolution_s <= 0:
            raise ValueError(f"resolution_s must be > 0, got {resolution_s}")
        self.resolution_s = int(resolution_s)
        self.retention_s = int(retention_s)
        self.limits = limits or Limits()
        self.clock = clock
        self._on_overflow = on_overflow
        self.has_baseline = has_baseline
        self._last_seen: dict[tuple[str, str, str], float] = {}
        self._lock = threading.RLock()
        self._windows: dict[SeriesKey, dict[int, FeatureWindow]] = {}
        self._totals: dict[SeriesKey, FeatureWindow] = {}
        self._features: dict[tuple[str, str, str], set[str]] = {}
        self._segments: dict[tuple[str, str, str], set[str]] = {}
        self._dirty: set[tuple[SeriesKey, int]] = set()
        self._generation = 0

    # -- writing -------------------------------------------------------------------------------

    def apply(self, updates: Sequence[Update]) -> None:
        """Add every update to its window, enforcing the cardinality caps."""
        overflow: dict[str, int] = {}
        now = self.clock()
        with self._lock:
            for key, window_start, delta in updates:
                capped = self._admit(key, overflow, now)
                if capped is None:
                    continue
                total = self._totals.get(capped)
                merged = delta if total is None else total.merge(delta)
                if merged.largest_count() > MAX_COUNT:
                    # Refused whole: a series' counts stay exact and far from int64's limit,
                    # so no later merge of its windows can wrap.
                    overflow["counts"] = overflow.get("counts", 0) + 1
                    continue
                ws = align(window_start, self.resolution_s)
                series = self._windows.setdefault(capped, {})
                current = series.get(ws)
                window = series[ws] = delta if current is None else current.merge(delta)
                if delta.categories is not None:
                    self._count_other(current, window, overflow)
                self._totals[capped] = merged
                self._dirty.add((capped, ws))
            self._generation += 1
        if overflow and self._on_overflow is not None:
            for limit, n in overflow.items():
                self._on_overflow(limit, n)

    @staticmethod
    def _count_other(
        before: FeatureWindow | None, after: FeatureWindow, overflow: dict[str, int]
    ) -> None:
        """Count the occurrences an update moved under ``__other__`` (the category cap)."""
        was = before.categories.overflow_count if before and before.categories else 0
        assert after.categories is not None
        n = after.categories.overflow_count - was
        if n > 0:
            overflow["categories"] = overflow.get("categories", 0) + n

    def _admit(self, key: SeriesKey, overflow: dict[str, int], now: float) -> SeriesKey | None:
        """Return the key an update is stored under after the caps, or None to drop it."""
        mk = key.model_key
        features = self._features.get(mk)
        if features is None:
            if len(self._features) >= self.limits.max_models and not self._protected(mk[0]):
                victim = self._idlest(now)
                if victim is None:
                    overflow["models"] = overflow.get("models", 0) + 1
                    return None
                self._evict(victim)
                overflow["models_evicted"] = overflow.get("models_evicted", 0) + 1
            features = self._features[mk] = set()
            self._segments[mk] = set()
        self._last_seen[mk] = now
        segments = self._segments[mk]
        feature, segment = key.feature, key.segment
        if feature not in features and feature != PREDICTION_FEATURE:
            if len(features) >= self.limits.max_features_per_model:
                overflow["features"] = overflow.get("features", 0) + 1
                feature = OVERFLOW
            features.add(feature)
        if segment and segment not in segments:
            if len(segments) >= self.limits.max_segments_per_model:
                overflow["segments"] = overflow.get("segments", 0) + 1
                segment = OVERFLOW
            segments.add(segment)
        if feature is key.feature and segment is key.segment:
            return key
        return SeriesKey(key.model, key.version, key.environment, feature, segment)

    def _protected(self, model: str) -> bool:
        return self.has_baseline is not None and self.has_baseline(model)

    def _idlest(self, now: float) -> tuple[str, str, str] | None:
        """Return the model without a baseline idle the longest beyond ``model_idle_s``."""
        cutoff = now - self.limits.model_idle_s
        idle = [
            (t, mk)
            for mk, t in self._last_seen.items()
            if t < cutoff and mk in self._features and not self._protected(mk[0])
        ]
        return min(idle)[1] if idle else None

    def _evict(self, mk: tuple[str, str, str]) -> None:
        """Forget a model's windows in memory (its stored rows age out with the retention)."""
        for key in [k for k in self._windows if k.model_key == mk]:
            for ws in self._windows.pop(key):
                self._dirty.discard((key, ws))
            self._totals.pop(key, None)
        self._features.pop(mk, None)
        self._segments.pop(mk, None)
        self._last_seen.pop(mk, None)

    def load(self, key: SeriesKey, window_start: int, window: FeatureWindow) -> None:
        """Put a stored window back as it was (restart), without caps or dirty marking."""
        with self._lock:
            series = self._windows.setdefault(key, {})
            current = series.get(window_start)
            series[window_start] = window if current is None else current.merge(window)
            total = self._totals.get(key)
            self._totals[key] = window if total is None else total.merge(window)
            mk = key.model_key
            self._features.setdefault(mk, set()).add(key.feature)
            segs = self._segments.setdefault(mk, set())
            if key.segment:
                segs.add(key.segment)
            self._last_seen[mk] = max(self._last_seen.get(mk, 0.0), float(window_start))
            self._generation += 1

    def prune(self, now: float | None = None) -> int:
        """Drop windows older than the retention; return how many were dropped."""
        cutoff = self.retention_cutoff(now)
        dropped = 0
        with self._lock:
            for key in list(self._windows):
                series = self._windows[key]
                old = [ws for ws in series if ws < cutoff]
                if not old:
                    continue
                for ws in old:
                    del series[ws]
                    self._dirty.discard((key, ws))
                dropped += len(old)
                if series:
                    self._totals[key] = merge_windows(series.values())
                else:
                    del self._windows[key]
                    del self._totals[key]
            if dropped:
                self._rebuild_known()
                self._generation += 1
        return dropped

    def retention_cutoff(self, now: float | None = None) -> int:
        """Return the first window start that retention keeps."""
        t = self.clock() if now is None else now
        return align(t - self.retention_s, self.resolution_s)

    def _rebuild_known(self) -> None:
        self._features.clear()
        self._segments.clear()
        known = {key.model_key for key in self._windows}
        self._last_seen = {mk: t for mk, t in self._last_seen.items() if mk in known}
        for key in self._windows:
            mk = key.model_key
            self._features.setdefault(mk, set()).add(key.feature)
            segs = self._segments.setdefault(mk, set())
            if key.segment:
                segs.add(key.segment)

    def take_dirty(self) -> dict[tuple[SeriesKey, int], FeatureWindow]:
        """Return the windows changed since the last call (for compaction) and clear the set."""
        with self._lock:
            out = {}
            for key, ws in self._dirty:
                window = self._windows.get(key, {}).get(ws)
                if window is not None:
                    out[(key, ws)] = window
            self._dirty.clear()
            return out

    def mark_dirty(self, cells: Iterable[tuple[SeriesKey, int]]) -> None:
        """Mark cells for the next compaction again (after a failed one)."""
        with self._lock:
            self._dirty.update(cells)

    # -- reading -------------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """Return a counter that changes whenever the state changes (for caches)."""
        return self._generation

    def window(
        self,
        key_filter: Callable[[SeriesKey], bool] | None = None,
        start: float = -math.inf,
        end: float = math.inf,
        *,
        model: str | None = None,
        version: str | None = None,
        environment: str | None = None,
        feature: str | None = None,
        segment: str | None = None,
    ) -> dict[SeriesKey, FeatureWindow]:
        """Return each matching series merged over the windows with ``start <= ws < end``.

        Series without a window in the range are left out. The filters combine (and).
        """
        # Stored windows are never mutated (apply replaces them), so references taken under
        # the lock can be merged outside it, keeping the writer unblocked.
        picked: list[tuple[SeriesKey, list[FeatureWindow]]] = []
        with self._lock:
            for key in self._matching(key_filter, model, version, environment, feature, segment):
                parts = [w for ws, w in self._windows[key].items() if start <= ws < end]
                if parts:
                    picked.append((key, parts))
        return {key: merge_windows(parts) for key, parts in picked}

    def history(
        self, key: SeriesKey, start: float = -math.inf, end: float = math.inf
    ) -> list[tuple[int, FeatureWindow]]:
        """Return ``(window_start, window)`` of one series in time order."""
        with self._lock:
            series = self._windows.get(key, {})
            return sorted((ws, w) for ws, w in series.items() if start <= ws < end)

    def totals(self) -> dict[SeriesKey, FeatureWindow]:
        """Return each series merged over every retained window."""
        with self._lock:
            return dict(self._totals)

    def models(self) -> list[tuple[str, str, str]]:
        """Return the known ``(model, version, environment)`` triples, sorted."""
        with self._lock:  # every admitted model has windows (eviction and prune keep them equal)
            return sorted(self._features)

    def keys(self) -> list[SeriesKey]:
        """Return every series key, sorted."""
        with self._lock:
            return sorted(self._windows)

    def window_count(self) -> int:
        """Return how many (series, window) cells are held in memory."""
        with self._lock:
            return sum(len(s) for s in self._windows.values())

    def _matching(
        self,
        key_filter: Callable[[SeriesKey], bool] | None,
        model: str | None,
        version: str | None,
        environment: str | None,
        feature: str | None,
        segment: str | None,
    ) -> Iterable[SeriesKey]:
        for key in self._windows:
            if model is not None and key.model != model:
                continue
            if version is not None and key.version != version:
                continue
            if environment is not None and key.environment != environment:
                continue
            if feature is not None and key.feature != feature:
                continue
            if segment is not None and key.segment != segment:
                continue
            if key_filter is not None and not key_filter(key):
                continue
            yield key
