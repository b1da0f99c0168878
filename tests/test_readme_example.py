"""The README's "ten lines" really join: every label sent finds its prediction record.

The block runs as written against otelml's in-memory pipes (``otelml.testing``), in a fresh
interpreter so that its model names do not share process-wide state with other tests.
``configure`` is replaced so that no global provider is installed, and the names the README
leaves to the reader (``sklearn_pipeline``, ``X``, ``y``) are a small fitted pipeline and its data.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

HARNESS = """
import json, sys
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
import otelml, otelml.testing

rng = np.random.default_rng(0)
X = pd.DataFrame({"amount": rng.normal(size=40), "age": rng.normal(size=40)})
y = (X["amount"] > 0).astype(int).to_numpy()
otelml.save_baseline(
    otelml.build_baseline(X.assign(country="FR"), model="fraud", version="3.2.0"),
    "fraud-3.2.0.baseline.json",
)
otelml.configure = lambda *a, **k: None
namespace = {"sklearn_pipeline": make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
             "X": X, "y": y}
with otelml.testing.capture() as telemetry:
    exec(compile(sys.stdin.read(), "README.md", "exec"), namespace)
    out = {e: [r.attributes["ml.prediction.id"] for r in telemetry.logs(e)]
           for e in ("ml.prediction", "ml.actual")}
    out["errors"] = [k for k, _ in telemetry.errors]
print(json.dumps(out))
"""


def _ten_lines() -> str:
    section = README.read_text(encoding="utf-8").split("## Ten lines that matter", 1)[1]
    match = re.search(r"```python\n(.*?)\n```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_readme_ten_lines_join_predictions_and_actuals(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    done = subprocess.run(
        [sys.executable, "-c", HARNESS],
        input=_ten_lines(),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    labelled, predicted = out["ml.actual"], set(out["ml.prediction"])
    assert labelled, "the README sends no actuals"
    assert set(labelled) <= predicted, "actuals whose prediction record was never emitted"
    assert len(labelled) == 40
    assert out["errors"] == []
