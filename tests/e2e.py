"""Helpers shared by the end-to-end tests of tests/collector and tests/stack.

Free loopback ports, waits that fail fast when a process died, child processes in their own
process groups, and the required binaries (the otelml Collector, Prometheus), which fail the
test (never skip it) when missing. Imported as ``from e2e import ...``: ``tests/`` has no
``__init__.py``, so pytest puts it on ``sys.path`` for the packages below it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[1]
COLLECTOR_DIR = REPO_ROOT / "collector"
# A cold Collector build compiles a few hundred Go packages on 2 cores; CI builds it before
# pytest (collector/build.sh) so that here it is only an up-to-date check.
BUILD_TIMEOUT_S = 1800.0

T = TypeVar("T")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    alive: Callable[[], str | None] | None = None,
) -> T:
    """Return the first truthy result of ``probe``; fail the test after ``timeout`` seconds.

    ``alive`` returns an error text when something the wait depends on has died, so that the
    test fails at once instead of waiting out the timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if alive is not None and (dead := alive()):
            pytest.fail(f"{what}: {dead}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def spawn(
    argv: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Return a started child in its own process group, its stdout+stderr in ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            # its own process group: teardown signals it and its children, nothing else
            start_new_session=True,
        )


def stop_group(popen: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the child's process group, then SIGKILL after ``grace`` seconds."""
    if popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, signal.SIGTERM)
    try:
        popen.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(timeout=grace)


def read_log(path: Path) -> str:
    """Return the text of a process log, "" before the process wrote it."""
    return path.read_text(errors="replace") if path.exists() else ""


def build_collector() -> Path:
    """Return the path of the otelml Collector, built by collector/build.sh when missing or stale.

    Fails the test when the build fails or gives no executable: CI builds it before pytest.
    """
    try:
        done = subprocess.run(
            ["bash", str(COLLECTOR_DIR / "build.sh")],
            capture_output=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"collector/build.sh took longer than {BUILD_TIMEOUT_S:.0f}s")
    if done.returncode != 0:
        pytest.fail(
            "collector/build.sh failed (CI must build the Collector before the tests):\n"
            + done.stderr.decode(errors="replace")[-4000:]
        )
    binary = Path(done.stdout.decode().strip().splitlines()[-1])
    if not os.access(binary, os.X_OK):
        pytest.fail(f"collector/build.sh did not produce an executable at {binary}")
    return binary


def prometheus_binary() -> str:
    """Return the path of the prometheus command; fail the test when it is not installed."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run .ci/install-system.sh")
    return binary
