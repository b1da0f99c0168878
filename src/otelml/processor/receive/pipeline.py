"""What both receivers do with a decoded request: ingest, make durable, answer.

The outcome maps onto both transports: ``OK`` (with an OTLP partial success when some items
were refused), ``INVALID`` (every item refused: HTTP 400 / gRPC INVALID_ARGUMENT),
``BACKPRESSURE`` (write queue full: HTTP 503 + Retry-After / gRPC RESOURCE_EXHAUSTED + RetryInfo)
and ``UNAVAILABLE`` (storage failed or shutting down: HTTP 503 / gRPC UNAVAILABLE). Only ``OK``
changed anything.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from otelml.processor.inflight import InflightBudget
from otelml.processor.receive.ingest import ingest_metrics
from otelml.processor.receive.logs import ingest_logs
from otelml.processor.receive.otlp import PartialSuccess, Signal, item_count
from otelml.processor.receive.series import IngestOptions
from otelml.processor.receive.spans import ingest_spans
from otelml.processor.state.observations import IngestResult, LogEvent
from otelml.processor.state.store import Backpressure, StorageError, Store
from otelml.processor.telemetry import ProcessorTelemetry

log = logging.getLogger(__name__)

LogEventHook = Callable[[Sequence[LogEvent]], "concurrent.futures.Future[None] | None"]
"""Receives the ``ml.prediction`` / ``ml.actual`` records of each logs request (the
ground-truth join plugs in here). A hook that makes them durable returns a future: the request
is acknowledged only once it resolves, and refused (backpressure / unavailable) if it fails."""

_INGEST: dict[str, Callable[[Any, IngestOptions, float], IngestResult]] = {
    "metrics": ingest_metrics,
    "traces": ingest_spans,
    "logs": ingest_logs,
}


class Status(enum.Enum):
    """How a request ended."""

    OK = "ok"
    INVALID = "invalid"
    BACKPRESSURE = "backpressure"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to one request."""

    status: Status
    partial: PartialSuccess = field(default_factory=PartialSuccess)
    message: str = ""


class Pipeline:
    """Ingest → store → acknowledge, shared by the gRPC and HTTP receivers."""

    def __init__(
        self,
        store: Store,
        options: IngestOptions,
        telemetry: ProcessorTelemetry,
        *,
        clock: Callable[[], float] = time.time,
        budget: InflightBudget | None = None,
        max_gzip_ratio: float = 0.0,
    ) -> None:
        self.budget = budget or InflightBudget(0)
        """Bytes of bodies in flight, shared by both receivers (and the API)."""
        self.max_gzip_ratio = max_gzip_ratio
        self.store = store
        self.options = options
        self.telemetry = telemetry
        self.clock = clock
        self.event_hooks: list[LogEventHook] = []

    def malformed(self, signal: Signal, reason: str = "malformed") -> None:
        """Count one request that could not be decoded (items unknown, so one per request)."""
        self.telemetry.rejected(signal, reason)

    async def handle(self, signal: Signal, request: Any) -> Outcome:
        """Return the outcome of a decoded Export*ServiceRequest, once it is durable."""
        tel = self.telemetry
        if self.store.is_full():
            # Refuse before spending CPU on ingestion: under overload that CPU is what the
            # writer needs to drain the queue.
            n = item_count(signal, request)
            tel.received(signal, n)
            tel.rejected(signal, "backpressure", n)
            return Outcome(Status.BACKPRESSURE, message="write queue full")
        # Off the event loop: a 7 MB span with 200k attributes takes a second of Python, during
        # which health checks, scrapes and other clients must still be answered.
        res = await asyncio.to_thread(_INGEST[signal], request, self.options, self.clock())
        tel.received(signal, res.items)
        if res.items and res.rejected >= res.items:
            for reason, n in res.reasons.items():
                tel.rejected(signal, reason, n)
            return Outcome(Status.INVALID, message=res.error_message)
        if res.has_data:
            try:
                fut = self.store.submit(res)
            except Backpressure as exc:
                tel.rejected(signal, "backpressure", res.items)
                return Outcome(Status.BACKPRESSURE, message=str(exc))
            try:
                # Shielded: a client that gives up (deadline, disconnect) cancels this wait but
                # never the write, which commits and is counted as if the answer had been read.
                await asyncio.shield(asyncio.wrap_future(fut))
            except (StorageError, Backpressure) as exc:
                tel.rejected(signal, "internal", res.items)
                return Outcome(Status.UNAVAILABLE, message=str(exc))
        if res.events:
            try:
                await self._events(res.events)
            except Backpressure as exc:
                tel.rejected(signal, "backpressure", res.items)
                return Outcome(Status.BACKPRESSURE, message=str(exc))
            except StorageError as exc:
                tel.rejected(signal, "internal", res.items)
                return Outcome(Status.UNAVAILABLE, message=str(exc))
        for reason, n in res.reasons.items():
            tel.rejected(signal, reason, n)
        tel.accepted(signal, res.items - res.rejected)
        return Outcome(Status.OK, PartialSuccess(res.rejected, res.error_message))

    async def _events(self, events: list[LogEvent]) -> None:
        """Hand the events to every hook and wait for those that make them durable."""
        futures = [f for hook in self.event_hooks if (f := self._call_hook(hook, events))]
        for fut in futures:
            await asyncio.shield(asyncio.wrap_future(fut))
        counts: dict[str, int] = {}
        for e in events:
            counts[e.name] = counts.get(e.name, 0) + 1
        for name, n in counts.items():
            self.telemetry.event(name, n)

    @staticmethod
    def _call_hook(
        hook: LogEventHook, events: list[LogEvent]
    ) -> concurrent.futures.Future[None] | None:
        try:
            return hook(events)
        except Backpressure:
            raise
        except Exception:
            log.exception("log event hook failed")
            return None
