"""``otelml demo`` as a user runs it: a real subprocess, its output, its /metrics, its report.

One short run (20 s at 200 rows/s so the short drift windows hold enough rows) must finish
with status 0, name the features the story drifts as drifting and none of the others, answer
on /metrics while it runs, and leave a report with its charts; a run interrupted with SIGINT
must stop cleanly, with status 130 and a report.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from otelml.demo.scenario import DRIFTED, MODEL_FEATURES, NEW_CATEGORY_COLUMN

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ALL_FEATURES = (*MODEL_FEATURES, NEW_CATEGORY_COLUMN)
STABLE = tuple(f for f in ALL_FEATURES if f not in DRIFTED)


@dataclass
class Demo:
    """A running ``otelml demo`` and the lines it printed so far."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 90.0) -> re.Match[str]:
        """Return the match of the first new line matching ``pattern``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            m = re.search(pattern, line)
            if m:
                return m
        raise AssertionError(f"no line matching {pattern!r}; output:\n" + "\n".join(self.lines))

    def finish(self, timeout: float = 90.0) -> int:
        """Wait for the exit; return the status, with every line read."""
        status = self.proc.wait(timeout)
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return status


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[object]:
    demos: list[tuple[subprocess.Popen[str], threading.Thread]] = []

    def start(*args: str) -> Demo:
        env = {**os.environ, "NO_COLOR": "1"}
        env.pop("OTEL_SDK_DISABLED", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "otelml", "demo", "--metrics-port", "0", *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        demo = Demo(proc)
        pump = threading.Thread(target=demo.pump, daemon=True)
        pump.start()
        demos.append((proc, pump))
        return demo

    yield start
    for proc, pump in demos:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        pump.join(10)  # reads to EOF, then the pipe can be closed
        assert proc.stdout is not None
        proc.stdout.close()


def _final_statuses(lines: list[str]) -> dict[str, str]:
    start = next(i for i, line in enumerate(lines) if line.startswith("final drift status"))
    out = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        name, _kind, status = line.split()[:3]
        out[name] = status.lower()
    return out


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read().decode("utf-8")


def test_demo_names_the_drifted_features_and_writes_the_report(
    start_demo: object, tmp_path: Path
) -> None:
    report = tmp_path / "out" / "report.html"
    report.parent.mkdir()
    state = tmp_path / "state"
    demo = start_demo(  # type: ignore[operator]
        "--duration", "20", "--speed", "200", "--no-live", "--report", str(report),
        "--state-dir", str(state), "--seed", "3",
    )  # fmt: skip
    url = demo.wait_for(r"processor ready: /metrics (http://\S+)/metrics").group(1)
    # A status line means the first evaluation is in: /metrics then carries drift gauges.
    demo.wait_for(r"\] [\d,]+ predictions · status")
    status, text = _get(url + "/metrics")
    assert status == 200
    assert 'otelml_feature_drift_status{model="breast-cancer"' in text
    assert 'otelml_predictions_total{model="breast-cancer"' in text

    assert demo.finish() == 0, "\n".join(demo.lines)
    out = "\n".join(demo.lines)
    statuses = _final_statuses(demo.lines)
    assert set(statuses) == {*ALL_FEATURES, "prediction"}, out
    for name in DRIFTED:
        assert statuses[name] == "drift", out
    for name in STABLE:
        assert statuses[name] != "drift", out
    drifting = next(line for line in demo.lines if line.startswith("drifting: "))
    assert set(drifting.removeprefix("drifting: ").split(", ")) == set(DRIFTED)
    # The missing-value spike shows as data quality, not as drift.
    smooth = next(line for line in demo.lines if line.strip().startswith("mean_smoothness"))
    assert smooth.split()[-1] == "alert", smooth
    _check_performance(demo.lines)

    html = report.read_text(encoding="utf-8")
    assert f"wrote {report}" in out
    assert "<script" not in html
    # One distribution chart per column plus the prediction, and the charts over time.
    assert html.count('aria-label="') >= len(ALL_FEATURES) + 1 + 3
    for name in ALL_FEATURES:
        assert f"{name}: current vs baseline distribution" in html
    assert "Drift over time" in html
    assert "Status over time" in html
    assert 'class="series"' in html  # lines drawn from the feature history API
    assert "partner_api" in html  # the new category is on the channel chart
    assert (state / "otelml.db").exists()
    assert (state / "otelml-demo.log").exists()


def _has_performance_route() -> bool:
    from otelml.processor.api.app import ROUTES

    return any(path.endswith("/performance") for _method, path, _handler in ROUTES)


def _check_performance(lines: list[str]) -> None:
    """Realised accuracy falls below the label-free estimate once the concept changed."""
    perf = next(line for line in lines if line.startswith("performance: "))
    if not _has_performance_route():  # a processor without the ground-truth join
        assert perf == "performance: waiting for the ground-truth join"
        return
    m = re.search(r"accuracy realised ([\d.]+) / estimated ([\d.]+)", perf)
    assert m is not None, perf
    realised, estimated = float(m.group(1)), float(m.group(2))
    assert realised < estimated - 0.1, perf


def test_sigint_stops_cleanly_and_still_writes_the_report(
    start_demo: object, tmp_path: Path
) -> None:
    demo = start_demo("--duration", "120", "--no-live", "--report", "r.html")  # type: ignore[operator]
    url = demo.wait_for(r"processor ready: /metrics (http://\S+)/metrics").group(1)
    demo.wait_for(r"phase 1/5")
    time.sleep(2.0)  # a few predict calls and exports in flight
    demo.proc.send_signal(signal.SIGINT)
    assert demo.finish(timeout=60) == 130, "\n".join(demo.lines)
    out = "\n".join(demo.lines)
    assert "stopping after" in out
    assert "final drift status" in out
    report = tmp_path / "r.html"
    assert report.exists()
    assert "stopped early (Ctrl-C)" in report.read_text(encoding="utf-8")
    with pytest.raises(urllib.error.URLError):  # the processor is closed
        _get(url + "/healthz")
