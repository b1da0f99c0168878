"""The report in a real headless Chromium: it renders its table and charts, with no console error.

Needs Debian's ``chromium`` (``.ci/install-system.sh`` installs it). Console messages (script
errors, Content-Security-Policy violations, failed loads) are what Chromium logs as ``CONSOLE``
lines on stderr with ``--enable-logging=stderr``; a control page with a script error proves that
the check sees them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from otelml.baselines import build_baseline
from otelml.examples_data import example_frames
from otelml.report import write_report

from ._html import Page
from ._png import read_png

pytestmark = pytest.mark.e2e

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)
DRIFT_RED = (0xD6, 0x45, 0x45)


def _chromium(tmp_path: Path, page: Path, *args: str) -> tuple[str, list[str]]:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("Debian's chromium is not installed: run .ci/install-system.sh")
    proc = subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ref, cur = example_frames(0)
    cur["country"][:5] = "<script>alert('x')</script>"  # escaped, so never run
    path = tmp_path_factory.mktemp("report") / "report.html"
    return write_report(path, build_baseline(ref, model="shop", version="1"), cur)


def test_console_check_sees_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><body><p>x</p><script>missing()</script></body>")
    _, console = _chromium(tmp_path, bad, "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in console), console


def test_report_renders_table_and_charts_without_console_errors(
    tmp_path: Path, report: Path
) -> None:
    dom, console = _chromium(tmp_path, report, "--dump-dom")
    assert console == []
    page = Page(dom)
    rows = page.tables["drift"]
    assert len(rows) == 6
    assert {r[0]: r[6] for r in rows}["income"] == "drift"
    assert page.tags.count("svg") == 6
    assert page.tags.count("rect") > 6 * 2 * 3  # two bars per bin plus the legend swatches
    assert "script" not in page.tags


def test_screenshot_is_not_blank(tmp_path: Path, report: Path) -> None:
    shot = tmp_path / "shot.png"
    _, console = _chromium(
        tmp_path, report, "--hide-scrollbars", "--window-size=800,450", f"--screenshot={shot}"
    )
    assert console == []
    img = read_png(shot.read_bytes())[..., :3]
    assert img.shape[:2] == (450, 800)
    colours, counts = np.unique(img.reshape(-1, 3), axis=0, return_counts=True)
    assert counts.max() / counts.sum() < 0.9  # not one flat colour
    assert len(colours) > 50  # text, table lines, badges
    # The red "drift" badges of the table are painted.
    assert np.all(img == DRIFT_RED, axis=-1).sum() > 100
