"""The processor's own telemetry: thread-safe counters that the /metrics endpoint renders.

Receivers count items (metric data points, spans, log records) per signal; the store reports its
queue depth and database size through providers; the evaluator records its run time. Exporters
read a consistent :meth:`ProcessorTelemetry.snapshot` and never touch the counters' internals.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

SIGNALS: tuple[str, ...] = ("metrics", "traces", "logs")
"""Values of the ``signal`` label."""

REJECT_REASONS: tuple[str, ...] = (
    "malformed",  # undecodable protobuf / JSON / gzip, or wrong content type
    "too_large",  # body or message over the configured size limit
    "backpressure",  # write queue full: the client is told to retry
    "invalid_point",  # one data point rejected (NaN sum, negative count, unknown kind, ...)
    "invalid_record",  # one ml.prediction / ml.actual log record malformed or out of time
    "too_long",  # an attribute value over the configured length
    "internal",  # a failure of ours (storage); the client may retry
    "unauthenticated",  # no valid bearer token (one per request: the body is not read)
    "forbidden",  # a valid token without the ingest scope (one per request)
)
"""Values of the ``reason`` label of the rejected counter."""

OVERFLOW_LIMITS: tuple[str, ...] = (
    "models",  # updates of a model beyond limits.max_models, dropped
    "models_evicted",  # idle models without a baseline forgotten to make room for a new one
    "features",
    "segments",
    "categories",  # occurrences counted under __other__ beyond limits.max_categories_per_feature
    "streams",
    "join_models",  # predictions of a model beyond joins.max_models, dropped
    "baselines",  # baselines refused beyond limits.max_baselines
    "baseline_versions",  # baselines refused beyond limits.max_baseline_versions
)
"""Values of the ``limit`` label of the overflow counter."""

EVALUATION_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0)
"""Upper bounds (seconds, upper-inclusive) of the evaluation-duration histogram."""


@dataclass(frozen=True, slots=True)
class TelemetrySnapshot:
    """A consistent copy of every self-telemetry value at one instant."""

    received: dict[str, int]
    accepted: dict[str, int]
    rejected: dict[tuple[str, str], int]
    """(signal, reason) -> items."""
    overflow: dict[str, int]
    events: dict[str, int]
    """Log events seen, by event name (``ml.prediction``, ``ml.actual``)."""
    evaluation_buckets: tuple[float, ...]
    evaluation_counts: tuple[int, ...]
    """Non-cumulative counts per bucket, len(evaluation_buckets) + 1 (last is +Inf)."""
    evaluation_sum: float
    evaluation_count: int
    queue_depth: int
    db_size_bytes: int


@dataclass
class ProcessorTelemetry:
    """Counters of what the processor received, accepted, rejected and overflowed.

    All methods are safe to call from any thread.
    """

    queue_depth_provider: Callable[[], int] | None = None
    db_size_provider: Callable[[], int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _received: dict[str, int] = field(default_factory=dict, repr=False)
    _accepted: dict[str, int] = field(default_factory=dict, repr=False)
    _rejected: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _overflow: dict[str, int] = field(default_factory=dict, repr=False)
    _events: dict[str, int] = field(default_factory=dict, repr=False)
    _eval_counts: list[int] = field(
        default_factory=lambda: [0] * (len(EVALUATION_BUCKETS) + 1), repr=False
    )
    _eval_sum: float = 0.0
    _eval_count: int = 0

    def received(self, signal: str, n: int = 1) -> None:
        """Count ``n`` items of ``signal`` that arrived (decodable or not)."""
        with self._lock:
            self._received[signal] = self._received.get(signal, 0) + n

    def accepted(self, signal: str, n: int = 1) -> None:
        """Count ``n`` items acknowledged to the client (including ones with nothing of ours)."""
        with self._lock:
            self._accepted[signal] = self._accepted.get(signal, 0) + n

    def rejected(self, signal: str, reason: str, n: int = 1) -> None:
        """Count ``n`` items refused, by reason (see :data:`REJECT_REASONS`)."""
        with self._lock:
            k = (signal, reason)
            self._rejected[k] = self._rejected.get(k, 0) + n

    def overflow(self, limit: str, n: int = 1) -> None:
        """Count ``n`` items relabelled or dropped by a cardinality cap."""
        with self._lock:
            self._overflow[limit] = self._overflow.get(limit, 0) + n

    def event(self, name: str, n: int = 1) -> None:
        """Count ``n`` log events of ``name``."""
        with self._lock:
            self._events[name] = self._events.get(name, 0) + n

    def record_evaluation(self, seconds: float) -> None:
        """Record one evaluation run's wall time (processor-eval calls it)."""
        i = bisect.bisect_left(EVALUATION_BUCKETS, seconds)
        with self._lock:
            self._eval_counts[i] += 1
            self._eval_sum += seconds
            self._eval_count += 1

    def snapshot(self) -> TelemetrySnapshot:
        """Return every value at one instant."""
        depth = self.queue_depth_provider() if self.queue_depth_provider else 0
        size = self.db_size_provider() if self.db_size_provider else 0
        with self._lock:
            return TelemetrySnapshot(
                received=dict(self._received),
                accepted=dict(self._accepted),
                rejected=dict(self._rejected),
                overflow=dict(self._overflow),
                events=dict(self._events),
                evaluation_buckets=EVALUATION_BUCKETS,
                evaluation_counts=tuple(self._eval_counts),
                evaluation_sum=self._eval_sum,
                evaluation_count=self._eval_count,
                queue_depth=depth,
                db_size_bytes=size,
            )
