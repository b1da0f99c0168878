"""Every example runs as a user would run it (a subprocess, small data) and says what it should."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, *args: str, timeout: float = 240) -> str:
    env = {**os.environ, "OTELML_EXAMPLE_FAST": "1", "OTEL_SDK_DISABLED": "false"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_sklearn_quickstart():
    out = run_example("sklearn_quickstart.py")
    assert "scored 143 rows" in out
    assert "span 'predict breast-cancer': batch size 143" in out
    assert "span 'predict breast-cancer': batch size 1," in out
    assert "metric ml.prediction.count = 144" in out
    assert "metric ml.feature.values: 30 features" in out
    assert "'mean radius' histogram: 144 values" in out
    assert "log record ml.prediction for id" in out
    assert "telemetry errors swallowed: 0" in out


def test_batch_scoring_prints_the_overhead():
    out = run_example("batch_scoring.py")
    assert "rows scored: 50,000 in 5 chunks of 10,000" in out
    assert re.search(r"without otelml: \d+\.\d+ s +with otelml: \d+\.\d+ s", out)
    assert re.search(r"overhead: -?\d+\.\d+ ms per chunk, -?\d+ ns per row, [+-]\d+\.\d%", out)
    assert "predictions counted: 160,000" in out
    m = re.search(r"NaN 'age' values counted: ([\d,]+) \(expected ([\d,]+)\)", out)
    assert m is not None
    assert m.group(1) == m.group(2)
    assert "telemetry errors swallowed: 0" in out


def test_training_baseline_from_telemetry_matches_the_direct_one():
    out = run_example("training_baseline.py")
    assert "validation rows: 72 (environment=validation)" in out
    assert "features: 13 from telemetry, 13 direct" in out
    assert "means agree: True" in out
    m = re.search(r"prediction classes in the telemetry baseline: \{(.*)\}", out)
    assert m is not None
    assert sum(int(n) for n in re.findall(r": (\d+)", m.group(1))) == 72


@pytest.mark.slow
def test_drift_in_ci_gates_and_writes_reports(tmp_path):
    out = run_example("drift_in_ci.py", str(tmp_path))
    assert "CI gate for candidate-ok: pass" in out
    assert "CI gate for candidate-drifted: FAIL (drift)" in out
    assert "2 of 6 columns drifted (income, country)" in out
    for name in ("candidate-ok", "candidate-drifted"):
        text = (tmp_path / f"{name}.html").read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>")
        assert text.count("<svg") == 6
