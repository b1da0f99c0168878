"""Fixtures for end-to-end tests that run real processes on loopback ports.

Generic on purpose (processes with readiness checks and log capture, OTLP/gRPC sinks from
``otlp_sink.py``, a Prometheus server) so that both files can move up to ``tests/`` for other
e2e tests; only ``collector_binary`` and ``start_collector`` are about the Collector. Ports,
waits, process groups and the binaries come from ``tests/e2e.py``, shared with tests/stack.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from e2e import (
    COLLECTOR_DIR,
    build_collector,
    free_port,
    prometheus_binary,
    read_log,
    spawn,
    stop_group,
    wait_until,
)

from .otlp_sink import LOOPBACK, OtlpSink, TlsFiles

CONFIG_DIR = COLLECTOR_DIR / "configs"
LOG_TAIL_LINES = 80


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """Return the HTTP status of GET ``url``, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status: int = resp.status
            return status
    except urllib.error.HTTPError as err:
        return err.code
    except (OSError, ValueError):
        return None


@dataclass
class ManagedProcess:
    """A child process started by ``ProcessManager``, its stdout+stderr kept in ``log_path``."""

    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    log_path: Path

    def exit_text(self) -> str | None:
        """Return why the process is gone (with its log's tail), or None while it runs."""
        code = self.popen.poll()
        if code is None:
            return None
        return f"{self.name} exited with code {code}; log tail:\n{self.log_tail(15)}"

    def log_text(self) -> str:
        return read_log(self.log_path)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; only this process's own group."""
        stop_group(self.popen, grace)


@dataclass
class ProcessManager:
    """Starts processes for one test and stops every one of them at teardown."""

    log_dir: Path
    processes: list[ManagedProcess] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        ready: Callable[[], object] | None = None,
        timeout: float = 30.0,
        cwd: Path | None = None,
    ) -> ManagedProcess:
        """Start ``argv`` and return once ``ready()`` is truthy (fails if it exits first)."""
        log_path = self.log_dir / f"{name}.log"
        popen = spawn(argv, log_path, env=env, cwd=cwd)
        proc = ManagedProcess(name, list(argv), popen, log_path)
        self.processes.append(proc)
        if ready is not None:
            wait_until(
                lambda: ready() or None,
                timeout=timeout,
                what=f"{name} to be ready",
                interval=0.1,
                alive=proc.exit_text,
            )
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()

    def report_sections(self) -> list[tuple[str, str]]:
        return [(f"process log: {p.name} ({p.log_path})", p.log_tail()) for p in self.processes]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the tails of the test's process logs to its report when it fails."""
    report = yield
    manager = getattr(item, "_process_manager", None)
    if manager is not None and report.failed:
        for title, text in manager.report_sections():
            report.sections.append((title, text))
    return report


@pytest.fixture
def processes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProcessManager]:
    """A ProcessManager whose processes end with the test; their logs show when it fails."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    manager = ProcessManager(log_dir)
    request.node._process_manager = manager
    try:
        yield manager
    finally:
        manager.stop_all()


# --- OTLP/gRPC sinks (otlp_sink.py) ---------------------------------------------------------


@pytest.fixture
def loopback_tls(tmp_path: Path) -> TlsFiles:
    """A fresh self-signed certificate for 127.0.0.1, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed: run .ci/install-system.sh")
    files = TlsFiles(cert=tmp_path / "cert.pem", key=tmp_path / "key.pem")
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(files.key), "-out", str(files.cert),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return files


@pytest.fixture
def otlp_sinks() -> Iterator[Callable[..., OtlpSink]]:
    """A factory of started OtlpSinks (``make(name, tls=None)``), all stopped at teardown."""
    started: list[OtlpSink] = []

    def make(name: str, tls: TlsFiles | None = None) -> OtlpSink:
        sink = OtlpSink(name, tls).start()
        started.append(sink)
        return sink

    try:
        yield make
    finally:
        for sink in started:
            sink.stop()


# --- Prometheus (Debian's package, installed by .ci/install-system.sh) -------------------------


@dataclass
class PrometheusServer:
    url: str
    process: ManagedProcess


@pytest.fixture
def prometheus_server(processes: ProcessManager, tmp_path: Path) -> PrometheusServer:
    """A real Prometheus on a free loopback port that accepts remote write, no scrapes."""
    binary = prometheus_binary()
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  evaluation_interval: 1m\nscrape_configs: []\n")
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    proc = processes.start(
        "prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--web.listen-address={LOOPBACK}:{port}",
            f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
            "--web.enable-remote-write-receiver",
            "--log.level=warn",
        ],
        ready=lambda: http_status(f"{url}/-/ready") == 200,
        timeout=30,
    )
    return PrometheusServer(url, proc)


# --- the Collector ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def collector_binary() -> Path:
    """Path of the otelml Collector, built by collector/build.sh when missing or stale."""
    return build_collector()


@dataclass
class RunningCollector:
    otlp_grpc: str
    otlp_http: str
    health_url: str
    telemetry_url: str
    process: ManagedProcess


@pytest.fixture
def start_collector(
    collector_binary: Path, processes: ProcessManager
) -> Callable[..., RunningCollector]:
    """Start the Collector with configs from collector/configs on free loopback ports.

    Call it with one or more config file names (merged in order, as ``--config`` does) and
    extra environment variables for the configs' ``${env:...}`` placeholders.
    """

    def start(*configs: str, env: Mapping[str, str] | None = None) -> RunningCollector:
        ports = {
            "OTELCOL_OTLP_GRPC_PORT": free_port(),
            "OTELCOL_OTLP_HTTP_PORT": free_port(),
            "OTELCOL_HEALTH_PORT": free_port(),
            "OTELCOL_TELEMETRY_PORT": free_port(),
        }
        argv = [str(collector_binary), *(f"--config={CONFIG_DIR / name}" for name in configs)]
        health_url = f"http://{LOOPBACK}:{ports['OTELCOL_HEALTH_PORT']}/"
        proc = processes.start(
            f"otelcol-{len(processes.processes)}",
            argv,
            env={**{k: str(v) for k, v in ports.items()}, **(env or {})},
            ready=lambda: http_status(health_url) == 200,
            timeout=30,
        )
        return RunningCollector(
            otlp_grpc=f"{LOOPBACK}:{ports['OTELCOL_OTLP_GRPC_PORT']}",
            otlp_http=f"http://{LOOPBACK}:{ports['OTELCOL_OTLP_HTTP_PORT']}",
            health_url=health_url,
            telemetry_url=f"http://{LOOPBACK}:{ports['OTELCOL_TELEMETRY_PORT']}/metrics",
            process=proc,
        )

    return start
