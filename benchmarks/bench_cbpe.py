"""CBPE time per window (10k and 1M predictions; raw scores and 1000-bin histograms), and,
when a Python with NannyML is given, NannyML's estimates on the same windows.

    python benchmarks/bench_cbpe.py
    OTELML_NANNYML_PYTHON=/path/to/venv/bin/python python benchmarks/bench_cbpe.py

NannyML is not a dependency: install it in a throwaway virtualenv and point the variable at
that interpreter. Prints figures only; nothing here asserts a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from otelml.stats.cbpe import CBPEEstimator
from otelml.stats.performance import ScoreHistograms

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


def window(rng: np.random.Generator, n: int, mu: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores p(x) of a model calibrated by construction, with x ~ N(mu, 1), and labels."""
    x = rng.normal(mu, 1.0, n)
    p = 1.0 / (1.0 + np.exp(-(2.0 * x - 0.5)))
    return p, (rng.random(n) < p).astype(np.int64)


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def realised(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    pred = p > 0.5
    tp = float(np.sum(pred & (y == 1)))
    h = ScoreHistograms(np.unique(p))
    h.update_many(y, p)
    return {
        "accuracy": float(np.mean(pred == (y == 1))),
        "precision": tp / pred.sum(),
        "recall": tp / y.sum(),
        "f1": 2 * tp / (pred.sum() + y.sum()),
        "roc_auc": h.roc_auc(),
    }


NANNYML_SCRIPT = r"""
import json, sys, warnings, time
import numpy as np, pandas as pd, nannyml as nml
warnings.filterwarnings("ignore")
data = np.load(sys.argv[1])
def frame(p, y=None):
    d = {"y_pred_proba": p, "y_pred": (p > 0.5).astype(int)}
    if y is not None:
        d["y_true"] = y
    return pd.DataFrame(d)
metrics = ["roc_auc", "accuracy", "precision", "recall", "f1"]
est = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="y_true",
               problem_type="classification_binary", metrics=metrics, chunk_number=1)
est.fit(frame(data["ref_p"], data["ref_y"]))
out = []
for key in sorted(k for k in data.files if k.startswith("win_")):
    t0 = time.perf_counter()
    res = est.estimate(frame(data[key])).filter(period="analysis").to_df()
    took = time.perf_counter() - t0
    out.append({"window": key, "seconds": took,
                "estimates": {m: float(res[(m, "value")].iloc[0]) for m in metrics}})
print(json.dumps(out))
"""


def run_nannyml(python: str, ref: tuple[np.ndarray, np.ndarray], windows: list[np.ndarray]):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "windows.npz"
        arrays = {f"win_{i:02d}": w for i, w in enumerate(windows)}
        np.savez(path, ref_p=ref[0], ref_y=ref[1], **arrays)
        script = Path(tmp) / "nml.py"
        script.write_text(NANNYML_SCRIPT)
        proc = subprocess.run(
            [python, str(script), str(path)], capture_output=True, text=True, check=False
        )
    if proc.returncode != 0:
        print(f"NannyML run failed:\n{proc.stderr[-2000:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    rng = np.random.default_rng(0)
    ref_p, ref_y = window(rng, 50_000, 0.0)
    t0 = time.perf_counter()
    est = CBPEEstimator.fit(ref_p, ref_y)
    fit_s = time.perf_counter() - t0
    print(f"fit on 50k reference rows: {fit_s * 1e3:.1f} ms (calibrated={est.calibrated})")
    forced = CBPEEstimator.fit(ref_p, ref_y, calibrate=True)
    print(f"isotonic knots on 50k rows: {forced.knots_x.size}")

    print("\nCBPE estimate time per window (best of 5)")
    print(f"{'n':>9} {'raw scores':>12} {'histogram':>12} {'build hist':>12}")
    for n in (10_000, 1_000_000):
        p, y = window(rng, n, 0.7)
        hist = ScoreHistograms()
        hist.update_many(y, p)
        t_raw = best_of(lambda p=p: est.estimate(p), 5)
        t_hist = best_of(lambda hist=hist: est.estimate(hist), 5)
        t_build = best_of(lambda p=p, y=y: ScoreHistograms().update_many(y, p), 5)
        print(f"{n:>9} {t_raw * 1e3:>10.2f}ms {t_hist * 1e3:>10.2f}ms {t_build * 1e3:>10.2f}ms")
        print(f"{'':>9} raw/histogram time ratio: {t_raw / t_hist:.1f}x")

    print("\nEstimates vs realised on shifted windows (10k rows each; raw | 1000-bin histogram)")
    windows, rows = [], []
    for mu in (-1.0, 0.0, 1.0, 2.0):
        p, y = window(rng, 10_000, mu)
        windows.append(p)
        hist = ScoreHistograms()
        hist.update_many(y, p)
        rows.append((mu, realised(p, y), est.estimate(p), est.estimate(hist)))
    for mu, real, raw, hres in rows:
        print(f"mu={mu:+.0f}")
        for m in METRICS:
            print(
                f"  {m:>9}: realised {real[m]:.4f}  otelml {raw.estimates[m]:.4f}"
                f" ± {raw.std_errors[m]:.4f} | hist {hres.estimates[m]:.4f}"
            )

    python = os.environ.get("OTELML_NANNYML_PYTHON")
    if not python:
        print("\nNannyML: not compared (set OTELML_NANNYML_PYTHON to a Python with nannyml).")
        return 0
    nml = run_nannyml(python, (ref_p, ref_y), windows)
    if nml is None:
        return 1
    print("\nNannyML CBPE on the same windows (same reference)")
    worst = dict.fromkeys(METRICS, 0.0)
    for (mu, real, raw, _), res in zip(rows, nml, strict=True):
        print(f"mu={mu:+.0f} (NannyML {res['seconds'] * 1e3:.0f} ms)")
        for m in METRICS:
            theirs = res["estimates"][m]
            worst[m] = max(worst[m], abs(theirs - raw.estimates[m]))
            print(
                f"  {m:>9}: realised {real[m]:.4f}  otelml {raw.estimates[m]:.4f}"
                f"  nannyml {theirs:.4f}  diff {theirs - raw.estimates[m]:+.4f}"
            )
    print("max |nannyml - otelml|: " + ", ".join(f"{m} {v:.1e}" for m, v in worst.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
