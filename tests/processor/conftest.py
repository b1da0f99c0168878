"""Fixtures of the processor tests: an ``otelml serve`` subprocess on free loopback ports.

``processor_service`` is a factory: ``svc = processor_service(env={...})`` starts
``python -m otelml serve`` with a SQLite file in ``tmp_path`` and every listener on port 0,
waits for the ``otelml: ready`` line, and returns a :class:`ServiceProcess` whose
``grpc_endpoint`` / ``http_url`` / ``metrics_url`` are the bound addresses. Every process is
killed at teardown, whatever the test did.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from otelml.processor.receive.ingest import metrics_replayer
from otelml.processor.receive.series import IngestOptions
from otelml.processor.state.aggregator import Aggregator
from otelml.processor.state.store import Store

STARTUP_TIMEOUT_S = 60.0


@dataclass
class ServiceProcess:
    """A running ``otelml serve`` subprocess and its bound addresses."""

    proc: subprocess.Popen[str]
    db_path: Path
    env: dict[str, str]
    addresses: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def grpc_endpoint(self) -> str:
        """Return ``host:port`` of the OTLP/gRPC receiver."""
        return self.addresses["otlp-grpc"].split("://", 1)[1]

    @property
    def http_url(self) -> str:
        """Return ``http://host:port`` of the OTLP/HTTP receiver."""
        return self.addresses["otlp-http"]

    @property
    def metrics_url(self) -> str:
        """Return ``http://host:port`` of the metrics / API app."""
        return self.addresses["metrics"]

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        # Drained continuously so that a chatty process never blocks on a full pipe.
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def wait_for(self, text: str, timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Read stdout lines until one contains ``text``; fail on timeout or exit."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {text!r} from otelml serve; got {self.lines}")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                status = self.proc.wait()
                time.sleep(0.2)
                err = "".join(self.stderr)[-3000:]
                raise RuntimeError(f"otelml serve exited ({status}): {err}")
            self.lines.append(line)
            if " listening on " in line:
                name, _, url = line.removeprefix("otelml: ").partition(" listening on ")
                self.addresses[name] = url
            if text in line:
                return

    def terminate(self, timeout: float = 30.0) -> int:
        """Send SIGTERM and return the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def close(self) -> None:
        """Kill the process if it still runs and release its pipes."""
        self.kill9()
        for t in self._threads:
            t.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def kill9(self) -> None:
        """Kill the process with SIGKILL (no cleanup of any kind)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def start_service(
    db_path: Path, env: Mapping[str, str] | None = None, config: Path | None = None
) -> ServiceProcess:
    """Start ``otelml serve`` on free loopback ports and wait until it is ready."""
    full_env = {
        **os.environ,
        "OTELML_STORAGE__PATH": str(db_path),
        "OTELML_RECEIVERS__GRPC__ENDPOINT": "127.0.0.1:0",
        "OTELML_RECEIVERS__HTTP__ENDPOINT": "127.0.0.1:0",
        "OTELML_EXPORT__PROMETHEUS__ENDPOINT": "127.0.0.1:0",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    cmd = [sys.executable, "-m", "otelml", "serve"]
    if config is not None:
        cmd += ["--config", str(config)]
    proc = subprocess.Popen(
        cmd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    svc = ServiceProcess(proc, db_path, full_env)
    for target in (svc._pump, svc._pump_stderr):
        t = threading.Thread(target=target, daemon=True)
        t.start()
        svc._threads.append(t)
    try:
        svc.wait_for("otelml: ready")
    except BaseException:
        svc.kill9()
        raise
    return svc


@pytest.fixture
def processor_service(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """Return a factory that starts ``otelml serve`` subprocesses, all killed at teardown."""
    started: list[ServiceProcess] = []

    def factory(
        env: Mapping[str, str] | None = None,
        config: Path | None = None,
        db_path: Path | None = None,
    ) -> ServiceProcess:
        svc = start_service(db_path or tmp_path / "otelml.db", env, config)
        started.append(svc)
        return svc

    yield factory
    for svc in started:
        svc.close()


def load_state(db_path: Path) -> Aggregator:
    """Return the aggregator that a processor would rebuild from ``db_path`` (stopped)."""
    aggregator = Aggregator(resolution_s=60, retention_s=7 * 86400)
    store = Store(db_path, aggregator, replay=metrics_replayer(IngestOptions()))
    store.open()
    store.close()
    return aggregator
