"""Clients that give up never harm the service, and a dead core thread is never a silent wedge.

Against a real ``otelml serve``: exports whose deadline passes (or that are cancelled) while
they wait for the write, over gRPC and HTTP, and then full service within a second. Against
the writer itself: a cancelled future, a write that raises past its own handling, and a stop
with a full queue and a dead thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp import ClientSession
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_pb2

from otelml import semconv
from otelml.processor.config import config_from_dict
from otelml.processor.receive import pipeline as pipeline_module
from otelml.processor.receive.ingest import ingest_metrics, metrics_replayer
from otelml.processor.receive.pipeline import Pipeline, Status
from otelml.processor.receive.series import IngestOptions
from otelml.processor.service import EXIT_CORE_FAILED, ProcessorService
from otelml.processor.state.aggregator import Aggregator
from otelml.processor.state.store import Store
from otelml.processor.state.writer import Batch, GroupCommitWriter, WriterDied, settle
from otelml.processor.telemetry import ProcessorTelemetry

from .conftest import ServiceProcess
from .joindata import open_joins, prediction
from .otlpdata import metrics_request, model_attrs, sum_metric

METRICS_EXPORT = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
POINTS_PER_REQUEST = 2000


def _request(tag: int) -> bytes:
    points = [
        (model_attrs(model="faults", feature=f"f{tag}-{i}"), 1) for i in range(POINTS_PER_REQUEST)
    ]
    return metrics_request(sum_metric(semconv.FEATURE_MISSING.name, points)).SerializeToString()


def _ready(svc: ServiceProcess) -> int:
    try:
        with urllib.request.urlopen(svc.metrics_url + "/readyz", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def _grpc_exports(endpoint: str, n: int, timeout: float) -> list[grpc.StatusCode]:
    async with grpc.aio.insecure_channel(endpoint) as ch:
        export = ch.unary_unary(METRICS_EXPORT, request_serializer=None, response_deserializer=None)

        async def one(i: int) -> grpc.StatusCode:
            try:
                await export(_request(i), timeout=timeout)
            except grpc.aio.AioRpcError as exc:
                return exc.code()
            return grpc.StatusCode.OK

        return list(await asyncio.gather(*(one(i) for i in range(n))))


def _http_abandoned(url: str, n: int) -> None:
    """Send ``n`` requests and close each connection without reading the answer."""
    host, _, port = url.removeprefix("http://").partition(":")
    for i in range(n):
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        body = _request(10_000 + i)
        conn.request("POST", "/v1/metrics", body, {"Content-Type": "application/x-protobuf"})
        conn.sock.close()  # type: ignore[union-attr]  # gives up before the answer


def _full_service_within(svc: ServiceProcess, seconds: float) -> float:
    """Return how long until a normal export succeeds and /readyz is 200 (fail past it)."""
    t0 = time.monotonic()
    while True:
        codes = asyncio.run(_grpc_exports(svc.grpc_endpoint, 1, timeout=5))
        if codes == [grpc.StatusCode.OK] and _ready(svc) == 200:
            return time.monotonic() - t0
        assert time.monotonic() - t0 < seconds, f"not serving {seconds}s after: {codes}"
        time.sleep(0.05)


def test_exports_that_give_up_never_wedge_the_service(
    processor_service: Callable[..., ServiceProcess],
) -> None:
    svc = processor_service()
    for _ in range(5):
        codes = asyncio.run(_grpc_exports(svc.grpc_endpoint, 40, timeout=0.01))
        assert grpc.StatusCode.DEADLINE_EXCEEDED in codes or grpc.StatusCode.OK in codes
        _http_abandoned(svc.http_url, 20)
    took = _full_service_within(svc, 5.0)
    assert took < 1.0 + 4.0  # generous for a loaded machine; the figure is printed below
    print(f"full service {took:.3f}s after 200 cancelled gRPC + 100 abandoned HTTP exports")
    assert svc.terminate(timeout=30) == 0


# -- the writer on its own -------------------------------------------------------------------


def _writer(write: Callable[[Batch[int]], None], **kw: Any) -> GroupCommitWriter[int]:
    w: GroupCommitWriter[int] = GroupCommitWriter(
        "test-writer", write, lambda: None, queue_size=kw.pop("queue_size", 8), max_batch=4, **kw
    )
    w.start()
    return w


def _ok(batch: Batch[int]) -> None:
    for _, fut in batch:
        settle(fut)


def test_a_cancelled_future_does_not_kill_the_writer() -> None:
    gate = threading.Event()

    def write(batch: Batch[int]) -> None:
        gate.wait(5)
        _ok(batch)

    w = _writer(write)
    first = w.submit(1)
    assert first.cancel()  # what asyncio.wrap_future does when the client gives up
    gate.set()
    later = w.submit(2)
    later.result(timeout=5)
    assert w.alive
    w.stop(5, lambda: RuntimeError("stopped"))


def test_the_store_and_the_join_survive_cancelled_futures(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store(db, Aggregator(60), replay=metrics_replayer(IngestOptions()))
    store.open()
    joins = open_joins(db)
    try:
        req = metrics_pb2.ExportMetricsServiceRequest.FromString(_request(0))
        now = time.time()
        for i in range(3):
            # What asyncio.wrap_future does to the future when the client's deadline passes.
            assert store.submit(ingest_metrics(req, IngestOptions(), now)).cancel()
            assert joins.submit([prediction(f"p{i}", now, value=0.5)]).cancel()
        store.submit(ingest_metrics(req, IngestOptions(), now)).result(timeout=10)
        joins.submit([prediction("p-last", now, value=0.5)]).result(timeout=10)
        assert store.alive
        assert joins.alive
        assert joins.pending() == {"m": 4}  # the cancelled ones were written all the same
    finally:
        store.close(5)
        joins.close(5)


def test_a_writer_that_dies_says_so_fails_what_waits_and_stops_quickly() -> None:
    died: list[BaseException] = []

    def write(batch: Batch[int]) -> None:
        raise SystemError("boom")  # past the owner's own handling

    w = _writer(write, on_failure=died.append, queue_size=2)
    fut = w.submit(1)
    with pytest.raises(Exception, match=r"boom|writer"):
        fut.result(timeout=5)
    deadline = time.monotonic() + 5
    while (w.alive or not died) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not w.alive
    assert died
    assert isinstance(died[0], SystemError)
    # Queued after the death, with the queue full: refused, and stop() never blocks.
    with pytest.raises(WriterDied):
        w.submit(2)
    t0 = time.monotonic()
    w.stop(1, lambda: RuntimeError("stopped"))
    assert time.monotonic() - t0 < 2


def test_stop_with_a_full_queue_is_bounded() -> None:
    gate = threading.Event()

    def write(batch: Batch[int]) -> None:
        gate.wait(10)
        _ok(batch)

    w = _writer(write, queue_size=2)
    futs: list[concurrent.futures.Future[None]] = [w.submit(0)]
    time.sleep(0.1)  # the writer holds item 0 and waits at the gate
    futs += [w.submit(1), w.submit(2)]
    t0 = time.monotonic()
    w.stop(0.5, lambda: RuntimeError("stopped"))
    assert time.monotonic() - t0 < 2
    gate.set()
    for f in futs[1:]:
        with pytest.raises(RuntimeError):
            f.result(timeout=5)


async def test_a_dead_writer_turns_readiness_off_and_ends_the_service_non_zero(
    tmp_path: Path,
) -> None:
    config = config_from_dict(
        {
            "storage": {"path": str(tmp_path / "s.db")},
            "receivers": {"grpc": {"endpoint": "127.0.0.1:0"}, "http": {"endpoint": "127.0.0.1:0"}},
            "export": {"prometheus": {"endpoint": "127.0.0.1:0"}},
        }
    )
    svc = ProcessorService(config, announce=lambda _: None)
    run = asyncio.create_task(svc.run())
    while not svc.ctx.ready:
        await asyncio.sleep(0.01)

    def broken(batch: Any) -> None:
        raise MemoryError("a fault no owner handles")

    svc.store._writer._write = broken  # type: ignore[method-assign]
    try:
        async with ClientSession() as s:
            async with s.post(
                svc.addresses["otlp-http"] + "/v1/metrics",
                data=_request(0),
                headers={"Content-Type": "application/x-protobuf"},
            ) as resp:
                assert resp.status == 503
            assert not svc.ctx.ready
            assert svc.ctx.failed() == ["store writer"]
        for _ in range(1000):  # the service hears of the death on its loop, soon after
            if svc.exit_code:
                break
            await asyncio.sleep(0.01)
        assert svc.exit_code == EXIT_CORE_FAILED
    finally:
        svc.request_stop()  # whatever the asserts found, never leave the service running
    await asyncio.wait_for(run, 20)  # the service stopped by itself
    assert svc.exit_code == EXIT_CORE_FAILED


async def test_ingestion_runs_off_the_event_loop(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", Aggregator(60), replay=metrics_replayer(IngestOptions()))
    store.open()
    try:
        pipeline = Pipeline(store, IngestOptions(), ProcessorTelemetry())
        seen: list[threading.Thread] = []
        real = pipeline_module._INGEST["metrics"]

        def spy(*args: Any) -> Any:
            seen.append(threading.current_thread())
            return real(*args)

        pipeline_module._INGEST["metrics"] = spy
        try:
            req = metrics_pb2.ExportMetricsServiceRequest.FromString(_request(0))
            outcome = await pipeline.handle("metrics", req)
        finally:
            pipeline_module._INGEST["metrics"] = real
        assert outcome.status is Status.OK
        assert seen
        assert seen[0] is not threading.current_thread()
    finally:
        store.close(5)


def test_a_closed_stdout_never_stops_the_service(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "OTELML_STORAGE__PATH": str(tmp_path / "s.db"),
        "OTELML_RECEIVERS__GRPC__ENDPOINT": "127.0.0.1:0",
        "OTELML_RECEIVERS__HTTP__ENDPOINT": "127.0.0.1:0",
        "OTELML_EXPORT__PROMETHEUS__ENDPOINT": "127.0.0.1:0",
    }
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    proc = subprocess.Popen(
        [sys.executable, "-m", "otelml", "serve"],
        env=env,
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(write)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if (tmp_path / "s.db").exists():
                break
            time.sleep(0.1)
        time.sleep(1.0)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        err = proc.stderr.read() if proc.stderr else ""
        assert "BrokenPipeError" not in err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_idle_and_silent_connections_are_closed(
    processor_service: Callable[..., ServiceProcess],
) -> None:
    svc = processor_service(env={"OTELML_LIMITS__IDLE_TIMEOUT_S": "1"})
    socks = []
    for url in (svc.http_url, svc.metrics_url):
        host, _, port = url.removeprefix("http://").partition(":")
        silent = socket.create_connection((host, int(port)), timeout=30)
        slow = socket.create_connection((host, int(port)), timeout=30)
        slow.sendall(b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        socks += [silent, slow]
    t0 = time.monotonic()
    for s in socks:
        assert s.recv(1024) == b""  # closed by the server
        s.close()
    print(f"{len(socks)} idle or slow connections closed after {time.monotonic() - t0:.1f}s")
    codes = asyncio.run(_grpc_exports(svc.grpc_endpoint, 1, timeout=5))
    assert codes == [grpc.StatusCode.OK]
