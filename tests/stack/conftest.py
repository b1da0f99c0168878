"""Fixtures of the stack tests: processes on free loopback ports, always stopped at teardown.

Ports, waits, process groups and the required binaries come from ``tests/e2e.py`` (shared with
tests/collector); here are the stack's processes: otelml serve, Prometheus, the reference
baseline they are given.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

import e2e
from e2e import LOOPBACK, free_port, read_log, spawn, stop_group
from otelml.stats.baseline import Baseline
from otelml.stats.baseline_builder import BaselineBuilder

from .app_example import VERSION, reference_frame

T = TypeVar("T")


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """Return (status, body) of GET ``url``; (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return 0, b""


def http_send(
    url: str, body: bytes, ctype: str, method: str = "POST", timeout: float = 10.0
) -> tuple[int, bytes]:
    """Return (status, body) of a request with ``body``."""
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@dataclass
class Proc:
    """A child process in its own process group, its output in ``log``."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return read_log(self.log)

    def dead(self) -> str | None:
        code = self.popen.poll()
        if code is None:
            return None
        return f"{self.name} exited with {code}:\n" + "\n".join(self.text().splitlines()[-30:])

    def stop(self, grace: float = 10.0) -> None:
        stop_group(self.popen, grace)


@dataclass
class Processes:
    """Starts processes and stops every one of them (own process groups only)."""

    log_dir: Path
    started: list[Proc] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Proc:
        log = self.log_dir / f"{name}.log"
        popen = spawn(argv, log, env={"PYTHONUNBUFFERED": "1", **(env or {})}, cwd=cwd)
        proc = Proc(name, popen, log)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name} ---\n" + "\n".join(p.text().splitlines()[-40:]) for p in self.started
        )


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    procs: Sequence[Proc] = (),
    interval: float = 0.2,
) -> T:
    """Return the first truthy ``probe()``; fail after ``timeout`` s or when a process died."""

    def dead() -> str | None:
        return next((text for p in procs if (text := p.dead()) is not None), None)

    return e2e.wait_until(probe, timeout=timeout, what=what, interval=interval, alive=dead)


@pytest.fixture(scope="module")
def stack_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    """Processes of one module's stack, all stopped when the module's tests are done."""
    manager = Processes(tmp_path_factory.mktemp("logs"))
    try:
        yield manager
    finally:
        manager.stop_all()


def prom_query(url: str, query: str) -> list[dict[str, Any]]:
    """Return the instant-query result of ``query`` (vector/matrix items; scalars wrapped)."""
    status, body = http_get(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": query}))
    doc = json.loads(body) if body else {}
    if status != 200 or doc.get("status") != "success":
        raise AssertionError(f"query failed ({status}): {query}\n{body[:500]!r}")
    data = doc["data"]
    if data["resultType"] in ("scalar", "string"):
        return [{"metric": {}, "value": data["result"]}]
    result: list[dict[str, Any]] = data["result"]
    return result


def assert_counted_exactly(prometheus: str, query: str, expected: int) -> None:
    """Check that the single-sum ``query`` reaches ``expected`` and stays there, not above."""

    def counted() -> float:
        rows = prom_query(prometheus, query)
        return float(rows[0]["value"][1]) if rows else 0.0

    # The app's last export passes the Collector's batch and the next scrape: wait for it.
    wait_until(lambda: counted() >= expected, timeout=20, what=f"{expected} rows in Prometheus")
    time.sleep(2)  # two more scrapes: nothing is counted twice
    assert counted() == expected


def wait_http_ok(url: str, what: str, proc: Proc, timeout: float = 30.0) -> None:
    """Return once GET ``url`` answers 200; fail when ``proc`` dies or after ``timeout`` s."""
    wait_until(lambda: http_get(url)[0] == 200, timeout=timeout, what=what, procs=[proc])


def start_prometheus(procs: Processes, binary: str, config: Path, tsdb: Path) -> tuple[str, Proc]:
    """Return (URL, process) of a ready Prometheus with ``config`` on a free loopback port."""
    port = free_port()
    proc = procs.start(
        "prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tsdb}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--log.level=warn",
        ],
    )
    url = f"http://{LOOPBACK}:{port}"
    wait_http_ok(f"{url}/-/ready", "Prometheus", proc)
    return url, proc


def start_serve(
    procs: Processes, name: str, db: Path, env: Mapping[str, str] | None = None
) -> Proc:
    """Return a started ``otelml serve`` on OS-picked loopback ports, evaluating every second."""
    return procs.start(
        name,
        [sys.executable, "-m", "otelml", "serve"],
        env={
            "OTELML_STORAGE__PATH": str(db),
            "OTELML_RECEIVERS__GRPC__ENDPOINT": f"{LOOPBACK}:0",
            "OTELML_RECEIVERS__HTTP__ENDPOINT": f"{LOOPBACK}:0",
            "OTELML_EXPORT__PROMETHEUS__ENDPOINT": f"{LOOPBACK}:0",
            "OTELML_EVALUATION__INTERVAL_S": "1",
            **(env or {}),
        },
    )


def serve_addresses(proc: Proc, timeout: float = 60.0) -> dict[str, str]:
    """Return what a started ``otelml serve`` listens on (e.g. "metrics"), once it is ready."""
    wait_until(
        lambda: "otelml: ready" in proc.text(), timeout=timeout, what=proc.name, procs=[proc]
    )
    return dict(re.findall(r"otelml: (\S+) listening on (\S+)", proc.text()))


def reference_baseline(model: str) -> Baseline:
    """Return the baseline of app_example's reference data (fixed seed) for ``model``."""
    builder = BaselineBuilder(prediction="score", label="label")
    builder.update(reference_frame(np.random.default_rng(0), 20_000))
    importances = {"f0": 0.2, "f1": 0.5, "f2": 0.1, "c0": 0.3}
    return builder.freeze(
        model=model, version=VERSION, importances=importances, created_at="2024-01-01T00:00:00Z"
    )
