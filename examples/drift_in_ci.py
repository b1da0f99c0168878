"""otelml as a CI gate: build the baseline once, then check every new dataset against it.

Run: ``python examples/drift_in_ci.py [OUT_DIR]``. It writes a reference and two candidate
datasets, then runs the commands a CI job would run::

    otelml baseline build reference.csv --model shop --version 7 -o shop-7.baseline.json
    otelml report --baseline shop-7.baseline.json candidate.csv -o drift-report.html
    otelml drift  --baseline shop-7.baseline.json candidate.csv --fail-on-drift

``otelml report`` writes one self-contained HTML file to keep as a build artifact (it opens
offline); ``otelml drift --fail-on-drift`` exits 1 when a feature drifts, which fails the job.
In GitHub Actions, say::

    - run: otelml report --baseline shop-7.baseline.json data/today.parquet -o drift-report.html
    - uses: actions/upload-artifact@v4
      with: {name: drift-report, path: drift-report.html}
    - run: otelml drift --baseline shop-7.baseline.json data/today.parquet --fail-on-drift
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from otelml.examples_data import example_frames


def otelml_cli(*args: str) -> int:
    """Run ``otelml ARGS`` as CI would (a separate process) and return its exit status."""
    print(f"$ otelml {' '.join(args)}")
    proc = subprocess.run([sys.executable, "-m", "otelml", *args], check=False)
    print(f"[exit status {proc.returncode}]\n", flush=True)
    return proc.returncode


def main(out: Path) -> None:
    reference, drifted = example_frames(seed=0)  # income shifts and a new country appears
    fresh, _ = example_frames(seed=1)  # a new sample of the reference distribution
    pd.DataFrame(reference).to_csv(out / "reference.csv", index=False)
    pd.DataFrame(fresh).to_csv(out / "candidate-ok.csv", index=False)
    pd.DataFrame(drifted).to_csv(out / "candidate-drifted.csv", index=False)
    baseline = str(out / "shop-7.baseline.json")

    otelml_cli("baseline", "build", str(out / "reference.csv"), "--model", "shop",
               "--version", "7", "-o", baseline)  # fmt: skip
    gates = {}
    for name in ("candidate-ok", "candidate-drifted"):
        data, report = str(out / f"{name}.csv"), str(out / f"{name}.html")
        otelml_cli("report", "--baseline", baseline, data, "-o", report)
        gates[name] = otelml_cli("drift", "--baseline", baseline, data, "--fail-on-drift")
    for name, status in gates.items():
        print(f"CI gate for {name}: {'FAIL (drift)' if status else 'pass'}")
    sys.stdout.flush()
    if gates != {"candidate-ok": 0, "candidate-drifted": 1}:
        raise SystemExit(f"unexpected gate results: {gates}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        target = Path(sys.argv[1])
        target.mkdir(parents=True, exist_ok=True)
        main(target)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
