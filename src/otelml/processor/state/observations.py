"""What the receivers hand the state: observations, ready updates and log events of a request.

The contract between ``receive/`` (which decodes and validates the wire) and ``state/`` (which
makes it durable and applies it): the receivers build an :class:`IngestResult` per request, the
store logs and applies its observations and updates, and the join takes its events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from otelml.processor.state.aggregator import SeriesKey, Update
from otelml.processor.state.temporality import Value

_MAX_ERRORS = 5

NUMERIC, CATEGORY, MISSING, INVALID, ROWS = range(5)
"""Observation kinds: where a value goes in a :class:`FeatureWindow`."""


class Observation(NamedTuple):
    """One data point's contribution, before cumulative-to-delta conversion."""

    key: SeriesKey
    window_start: int
    kind: int
    label: str
    value: Value
    stream: str | None
    """Cumulative stream id, None for a delta point."""
    start_ns: int
    time_ns: int


@dataclass(frozen=True, slots=True)
class LogEvent:
    """An ``ml.prediction`` / ``ml.actual`` log record, for the ground-truth join."""

    name: str
    attributes: dict[str, Any]
    time_ns: int


@dataclass
class IngestResult:
    """What one request carried: observations or ready updates, and what was refused."""

    signal: str
    now: float = 0.0
    """The receive time the request was ingested with (replays use it again)."""
    request: Any = None
    """The decoded metrics request, which the store logs as it came (None for other signals)."""
    items: int = 0
    ours: int = 0
    observations: list[Observation] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    events: list[LogEvent] = field(default_factory=list)
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def reject(self, reason: str, message: str, n: int = 1) -> None:
        """Count ``n`` refused items under ``reason`` and keep the first messages."""
        self.rejected += n
        self.reasons[reason] = self.reasons.get(reason, 0) + n
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(message)

    @property
    def error_message(self) -> str:
        """Return the partial-success message (first few reasons)."""
        more = self.rejected - len(self.errors)
        tail = f"; and {more} more" if more > 0 and len(self.errors) == _MAX_ERRORS else ""
        return "; ".join(self.errors) + tail

    @property
    def has_data(self) -> bool:
        """Return whether there is anything to make durable."""
        return bool(self.observations or self.updates)
