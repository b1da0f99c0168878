"""No prediction or label record is lost silently: bursts, drops, flush, atexit, shutdown.

``otelml.configure`` installs process-global providers, so the end-to-end cases run a short
script in a subprocess that exports through the real OTLP/gRPC exporter to a local sink.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.instrumentation.otlp_receiver import log_sink

import otelml
import otelml.testing
from otelml.instrumentation.guard import GUARD
from otelml.instrumentation.logs import LogQueue

SRC = Path(__file__).resolve().parents[2] / "src"

SCRIPT = """
import sys, time
import otelml

n, batch, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
telemetry = otelml.configure(service_name="burst")

@otelml.observe(model="m", task="regression", log_predictions=True)
def predict(rows):
    return [float(r["x"]) for r in rows]

ids = []
for start in range(0, n, batch):
    predict([{"x": i} for i in range(start, min(n, start + batch))])
    ids.extend(otelml.last_prediction_ids())
if mode == "flush":
    print("flush1", telemetry.flush(30.0), flush=True)
sent = otelml.record_actuals(model="m", ids=ids, actuals=[1.0] * len(ids))
print("sent", int(sent), flush=True)
if mode == "flush":
    print("flush2", telemetry.flush(30.0), flush=True)
if mode == "shutdown":
    t0 = time.monotonic()
    telemetry.shutdown()
    print(f"shutdown {time.monotonic() - t0:.2f}", flush=True)
"""


def _run(port: int, n: int, batch: int, mode: str, timeout: float = 120.0) -> tuple[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_METRIC_EXPORT_INTERVAL": "600000",
    }
    env.pop("OTEL_SDK_DISABLED", None)
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(n), str(batch), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    elapsed = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr, elapsed


def _wait_for(sink: Any, want: dict[str, int], timeout: float = 10.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sink.lock:
            got = {k: sink.events[k] for k in want}
        if got == want:
            break
        time.sleep(0.05)
    return got


@pytest.mark.e2e
def test_a_burst_of_predictions_then_labels_all_arrive() -> None:
    """5,000 predictions in batches of 100, then 5,000 labels in one call (issue 17, item 1)."""
    with log_sink() as (sink, port):
        out, _ = _run(port, 5_000, 100, "flush")
        got = _wait_for(sink, {"ml.prediction": 5_000, "ml.actual": 5_000})
        assert got == {"ml.prediction": 5_000, "ml.actual": 5_000}, out
        assert sorted(sink.ids["ml.prediction"]) == sorted(sink.ids["ml.actual"])
    assert "delivered=5000" in out, out
    assert "pending=0" in out, out


@pytest.mark.e2e
def test_a_short_lived_script_drains_at_exit_without_calling_flush() -> None:
    """20,000 predictions and 20,000 actuals in bursts, the script just ends: all arrive."""
    with log_sink() as (sink, port):
        out, elapsed = _run(port, 20_000, 500, "exit")
        got = _wait_for(sink, {"ml.prediction": 20_000, "ml.actual": 20_000})
        assert got == {"ml.prediction": 20_000, "ml.actual": 20_000}, out
    print(f"20k+20k records through OTLP/gRPC, exit drain: {elapsed:.1f} s")


@pytest.mark.e2e
def test_shutdown_is_bounded_when_the_collector_is_down() -> None:
    with log_sink() as (_, port):
        pass  # the port is free again: nothing listens there
    out, elapsed = _run(port, 2_000, 100, "shutdown", timeout=90.0)
    took = float(out.split("shutdown ", 1)[1].split()[0])
    print(f"shutdown with the Collector down: {took:.2f} s (process {elapsed:.1f} s)")
    assert took <= 6.0, out
    assert elapsed <= 20.0, out


class _SlowLogger:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.records = 0
        self.lock = threading.Lock()

    def emit(self, **_: Any) -> None:
        time.sleep(self.delay)
        with self.lock:
            self.records += 1


def _rows(n: int) -> Any:
    return lambda: [({"i": i}, None) for i in range(n)]


def test_a_full_queue_counts_the_drop_and_says_what_to_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    GUARD.reset()
    queue = LogQueue(max_rows=10)
    logger = _SlowLogger(delay=0.01)
    with caplog.at_level(logging.WARNING, logger="otelml"):
        accepted = [queue.put(logger, "ml.actual", None, 5, _rows(5)) for _ in range(6)]
        queue.flush(10.0)
    assert not all(accepted)
    _, dropped = GUARD.totals()
    assert dropped.get("log_queue", 0) == 5 * accepted.count(False)
    warnings = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert "log_queue_rows" in warnings[0].getMessage()
    GUARD.reset()


def test_blocking_mode_waits_for_room_instead_of_dropping() -> None:
    GUARD.reset()
    queue = LogQueue(max_rows=10, block_s=5.0)
    logger = _SlowLogger(delay=0.002)
    accepted = [queue.put(logger, "ml.actual", None, 5, _rows(5)) for _ in range(10)]
    assert queue.flush(10.0)
    assert all(accepted)
    assert logger.records == 50
    assert GUARD.totals()[1] == {}


def test_blocking_mode_gives_up_at_its_deadline_and_counts() -> None:
    GUARD.reset()
    queue = LogQueue(max_rows=5, block_s=0.2)
    blocker = threading.Event()

    class Stuck:
        def emit(self, **_: Any) -> None:
            blocker.wait(5)

    t0 = time.monotonic()
    assert queue.put(Stuck(), "ml.actual", None, 5, _rows(5))
    assert not queue.put(Stuck(), "ml.actual", None, 5, _rows(5))
    assert time.monotonic() - t0 < 2.0
    assert GUARD.totals()[1] == {"log_queue": 5}
    blocker.set()
    queue.flush(5.0)
    GUARD.reset()


def test_record_actuals_tells_queued_from_delivered(
    telemetry: otelml.testing.Capture,
) -> None:
    sent = otelml.record_actuals(model="m", ids=["a", "b", "c"], actuals=[1, 0, 1])
    assert sent == 3
    assert isinstance(sent, int)
    assert sent.queued == 3
    assert sent.dropped == 0
    result = sent.wait(5.0)
    assert result.complete
    assert result.pending == 0
    assert len(telemetry.logs("ml.actual")) == 3


def test_flush_reports_what_was_delivered(telemetry: otelml.testing.Capture) -> None:
    otelml.record_actuals(model="m", ids=["a", "b"], actuals=[1, 0])
    result = otelml.flush(timeout=5.0)
    assert result.complete
    assert result.pending == 0
    assert result.handed_over >= 2
    assert "pending=0" in str(result)


def test_a_string_id_is_one_id(telemetry: otelml.testing.Capture) -> None:
    assert otelml.record_actuals(model="m", ids="abc", actuals=1) == 1
    (rec,) = telemetry.logs("ml.actual")
    assert rec.attributes["ml.prediction.id"] == "abc"


def test_the_worker_never_overflows_a_small_sdk_queue() -> None:
    """The SDK's batch processor drops silently when full: otelml waits for room instead."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import (
        BatchLogRecordProcessor,
        InMemoryLogRecordExporter,
        LogRecordExportResult,
    )

    class SlowExporter(InMemoryLogRecordExporter):  # type: ignore[misc]
        def export(self, batch: Any) -> Any:
            time.sleep(0.005)
            return super().export(batch) or LogRecordExportResult.SUCCESS

    exporter = SlowExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(
        BatchLogRecordProcessor(exporter, max_queue_size=64, max_export_batch_size=16)
    )
    logger = provider.get_logger("t")
    from otelml.instrumentation.logs import sdk_room

    assert sdk_room(logger) == 64  # the private SDK attributes otelml reads are still there
    queue = LogQueue(max_rows=10_000)
    for _ in range(5):
        assert queue.put(logger, "ml.actual", None, 400, _rows(400))
    assert queue.flush(30.0)
    provider.force_flush()
    assert len(exporter.get_finished_logs()) == 2_000
    provider.shutdown()


def test_drops_reach_otelmls_dropped_metric(telemetry: otelml.testing.Capture) -> None:
    otelml.observe(model="drops")(lambda row: 1.0)({"a": 1.0})  # the app's pipes are live
    queue = LogQueue(max_rows=3)
    assert not queue.put(_SlowLogger(), "ml.actual", None, 5, _rows(5))
    [point] = telemetry.points("otelml.instrumentation.dropped", {"otelml.error.kind": "log_queue"})
    assert point.value == 5
