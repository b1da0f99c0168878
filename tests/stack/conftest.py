"""Fixtures of the stack tests: processes on free loopback ports, always stopped at teardown."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

LOOPBACK = "127.0.0.1"
T = TypeVar("T")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


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
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def dead(self) -> str | None:
        code = self.popen.poll()
        if code is None:
            return None
        return f"{self.name} exited with {code}:\n" + "\n".join(self.text().splitlines()[-30:])

    def stop(self, grace: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(grace)


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
        with log.open("wb") as out:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )
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
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        for p in procs:
            if (dead := p.dead()) is not None:
                pytest.fail(f"{what}: {dead}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


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
