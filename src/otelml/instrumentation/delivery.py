"""What became of the records otelml queued: flush with a deadline, delivery counts, exit drain.

Three places can hold a prediction or actual record: otelml's own queue (:mod:`logs`), the SDK's
batch processor, and the exporter's request. otelml counts the first two itself; the third is
known only when :func:`otelml.configure` installed the exporter, which it wraps in
:class:`CountingLogExporter`. :func:`flush` reports all of it as a :class:`FlushResult`.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from otelml.instrumentation import logs
from otelml.instrumentation.config import env_float
from otelml.instrumentation.guard import GUARD
from otelml.instrumentation.logs import LOGS

EXIT_DRAIN_S = 5.0
"""Default deadline of the drain at interpreter exit (``OTELML_EXIT_DRAIN_S``)."""

EXPORT_FAILED_HINT = (
    "The OTLP log exporter could not deliver them (Collector down or refusing?); check "
    "OTEL_EXPORTER_OTLP_ENDPOINT and the Collector's logs."
)


class _Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.exported = 0
        self.failed = 0
        self.known = False  # True once an exporter of configure() reported


COUNTS = _Counts()


class CountingLogExporter:
    """Wraps a log exporter and counts the records it delivered or failed to deliver."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        with COUNTS.lock:
            COUNTS.known = True

    def export(self, batch: Sequence[Any]) -> Any:
        """Export ``batch`` with the wrapped exporter and count the outcome."""
        from opentelemetry.sdk._logs.export import LogRecordExportResult

        try:
            result = self._inner.export(batch)
        except Exception:
            result = LogRecordExportResult.FAILURE
        ok = result == LogRecordExportResult.SUCCESS
        with COUNTS.lock:
            if ok:
                COUNTS.exported += len(batch)
            else:
                COUNTS.failed += len(batch)
        if not ok:
            GUARD.dropped("log_export", len(batch), hint=EXPORT_FAILED_HINT)
        return result

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Shut the wrapped exporter down (aborts its retries)."""
        try:
            self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)
        except TypeError:
            self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the wrapped exporter."""
        flush = getattr(self._inner, "force_flush", None)
        return bool(flush(timeout_millis)) if flush is not None else True


@dataclass(frozen=True)
class FlushResult:
    """What happened to the records otelml queued, counted since the process started.

    ``handed_over``: records given to the OpenTelemetry SDK; ``delivered`` / ``failed``:
    records the OTLP exporter of :func:`otelml.configure` delivered or gave up on (None with
    an exporter otelml did not install); ``dropped``: records otelml dropped (queue full or
    export failed); ``pending``: records still in otelml's queue; ``complete``: everything
    queued before the call left otelml's queue and the SDK flushed within the deadline.
    """

    handed_over: int
    delivered: int | None
    failed: int | None
    dropped: int
    pending: int
    complete: bool

    def __str__(self) -> str:
        return (
            f"handed_over={self.handed_over} delivered={_n(self.delivered)} "
            f"failed={_n(self.failed)} dropped={self.dropped} pending={self.pending} "
            f"complete={self.complete}"
        )


def _n(x: int | None) -> str:
    return "unknown" if x is None else str(x)


def current(complete: bool) -> FlushResult:
    """Return the counts as they stand now."""
    _, dropped = GUARD.totals()
    with COUNTS.lock:
        delivered = COUNTS.exported if COUNTS.known else None
        failed = COUNTS.failed if COUNTS.known else None
    return FlushResult(
        handed_over=LOGS.handed_over,
        delivered=delivered,
        failed=failed,
        dropped=dropped.get("log_queue", 0) + dropped.get("log_export", 0),
        pending=LOGS.pending,
        complete=complete,
    )


def run_bounded(calls: Iterable[Callable[[], Any]], timeout: float) -> bool:
    """Run ``calls`` on daemon threads and wait at most ``timeout`` s; False if any is late.

    The SDK's flush and shutdown ignore their timeouts while an exporter retries against a
    Collector that is down; a thread per call keeps our caller's deadline anyway.
    """
    deadline = time.monotonic() + timeout
    threads = []
    ok = [True]

    def guarded(call: Callable[[], Any]) -> None:
        try:
            if call() is False:
                ok[0] = False
        except Exception as exc:
            ok[0] = False
            GUARD.error("flush", exc)

    for call in calls:
        t = threading.Thread(target=guarded, args=(call,), name="otelml-flush", daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return ok[0] and not any(t.is_alive() for t in threads)


def _providers() -> list[Any]:
    from otelml.instrumentation.runtime import RUNTIME

    return [p for p in RUNTIME.providers() if hasattr(p, "force_flush")]


def flush(timeout: float = 10.0, providers: Sequence[Any] | None = None) -> FlushResult:
    """Hand every queued record to OpenTelemetry and flush its providers, within ``timeout`` s.

    Returns a :class:`FlushResult`: ``complete`` is False when the deadline passed first.
    """
    deadline = time.monotonic() + max(0.0, timeout)
    drained = LOGS.flush(timeout)
    from otelml.instrumentation.flush import HUB

    try:
        HUB.drain_now()
    except Exception as exc:
        GUARD.error("flush", exc)
    targets = _providers() if providers is None else [p for p in providers if p is not None]
    remaining = max(0.0, deadline - time.monotonic())
    ms = int(remaining * 1000)
    flushed = run_bounded([functools.partial(p.force_flush, ms) for p in targets], remaining)
    return current(drained and flushed)


def drain_at_exit() -> None:
    """Flush within ``OTELML_EXIT_DRAIN_S`` (5 s) so a short-lived script loses nothing."""
    try:
        timeout = env_float("OTELML_EXIT_DRAIN_S", EXIT_DRAIN_S)
        result = flush(timeout)
        if not result.complete:
            import logging

            logging.getLogger("otelml").warning(
                "otelml: exit drain not finished within %.1f s (%s); raise OTELML_EXIT_DRAIN_S "
                "or call otelml.flush() before exiting.",
                timeout,
                result,
            )
    except Exception:
        pass


logs.exit_drain = drain_at_exit
