"""OTLP log records → the ``ml.prediction`` / ``ml.actual`` events of the ground-truth join.

Only otelml's two events are taken (by ``event_name``, or the older ``event.name`` attribute);
every other record is accepted and ignored. Each of ours is checked here with the join's own
parsers (:mod:`otelml.processor.state.pending`), so that a malformed record, or one stamped
before the join's horizon or too far in the future, is refused alone with a reason (counted and
reported as OTLP partial success) and the join receives only usable events.
"""

from __future__ import annotations

from typing import Any

from otelml import semconv
from otelml.processor.receive.otlp import any_value
from otelml.processor.receive.series import IngestOptions
from otelml.processor.state.observations import IngestResult, LogEvent
from otelml.processor.state.pending import Malformed, parse_actual, parse_prediction

_EVENTS = frozenset({semconv.PREDICTION_EVENT, semconv.ACTUAL_EVENT})
_NS = 1_000_000_000


def ingest_logs(request: Any, opts: IngestOptions, now: float) -> IngestResult:
    """Return the valid ``ml.prediction`` / ``ml.actual`` events of an ExportLogsServiceRequest."""
    res = IngestResult("logs", now)
    oldest = int((now - opts.horizon_s) * _NS)
    newest = int((now + opts.max_future_s) * _NS)
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
                t = rec.time_unix_nano or rec.observed_time_unix_nano or int(now * _NS)
                event = LogEvent(name, attrs, t)
                problem = check_event(event, opts.max_attribute_length, oldest, newest)
                if problem is None:
                    res.events.append(event)
                else:
                    res.reject(*problem)
    return res


def check_event(
    event: LogEvent, limit: int, oldest_ns: int, newest_ns: int
) -> tuple[str, str] | None:
    """Return ``(reason, message)`` when the join could not use ``event``, else None."""
    try:
        if event.name == semconv.PREDICTION_EVENT:
            when = parse_prediction(event.attributes, event.time_ns, limit).time_ns
        else:
            when = parse_actual(event.attributes, event.time_ns, limit).time_ns
    except Malformed as exc:
        reason = "too_long" if exc.reason == "too_long" else "invalid_record"
        return reason, f"{event.name}: {exc}"
    if when < oldest_ns:
        return "invalid_record", f"{event.name}: timestamp older than the join's horizon"
    if when > newest_ns:
        return "invalid_record", f"{event.name}: timestamp too far in the future"
    return None
