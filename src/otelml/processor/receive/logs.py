"""OTLP log records → the ``ml.prediction`` / ``ml.actual`` events of the ground-truth join.

Only otelml's two events are taken (by ``event_name``, or the older ``event.name`` attribute);
every other record is accepted and ignored. The join (:mod:`otelml.processor.state.joins`)
validates the events' attributes.
"""

from __future__ import annotations

from typing import Any

from otelml import semconv
from otelml.processor.receive.otlp import any_value
from otelml.processor.receive.series import IngestOptions
from otelml.processor.state.observations import IngestResult, LogEvent

_EVENTS = frozenset({semconv.PREDICTION_EVENT, semconv.ACTUAL_EVENT})


def ingest_logs(request: Any, opts: IngestOptions, now: float) -> IngestResult:
    """Return the ``ml.prediction`` / ``ml.actual`` events of an ExportLogsServiceRequest."""
    res = IngestResult("logs", now)
    for rl in request.resource_logs:
        for sl in rl.scope_logs:
            res.items += len(sl.log_records)
            for rec in sl.log_records:
                name = rec.event_name
                if not name:
                    for kv in rec.attributes:
                        if kv.key == "event.name":
                            name = kv.value.string_value
                            break
                if name not in _EVENTS:
                    continue
                res.ours += 1
                attrs = {kv.key: any_value(kv.value) for kv in rec.attributes}
                t = rec.time_unix_nano or rec.observed_time_unix_nano or int(now * 1e9)
                res.events.append(LogEvent(name, attrs, t))
    return res
