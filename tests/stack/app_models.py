"""An example service serving several models with otelml, run as a subprocess by the stack tests.

    python app_models.py --baseline-dir DIR --models churn,fraud --drift fraud=f1+c0 --seconds 8

Like ``app_example.py`` (same features and data generator), but one ``otelml.observe``-decorated
``predict`` per model, each with its baseline ``DIR/<model>.baseline.json``, so that a Collector
routing on ``ml.model.name`` has several models to spread over processor replicas. Every loop
serves one batch per model, then reports ground truth for every other row of it with
``otelml.record_actuals``. At exit it prints one line ``sent {json}`` with, per model, the rows
predicted and the rows given an actual.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from app_example import VERSION, rows  # the script's own directory is on sys.path

Predict = Callable[[list[dict[str, Any]]], np.ndarray]


def _drift(specs: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for spec in specs:
        model, _, features = spec.partition("=")
        out[model] = {f for f in features.split("+") if f}
    return out


def _predictor(model: str, baseline: Path) -> Predict:
    import otelml

    @otelml.observe(
        model=model,
        version=VERSION,
        task="binary_classification",
        baseline=str(baseline),
        id_from="request_id",
        segment_by=["country"],
    )
    def predict(batch: list[dict[str, Any]]) -> np.ndarray:
        f1 = np.array([r["f1"] for r in batch])
        return np.asarray(1.0 / (1.0 + np.exp(-(f1 - 1.0))))

    return predict


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline-dir", required=True, type=Path)
    parser.add_argument("--models", required=True, help="comma-separated model names")
    parser.add_argument("--drift", action="append", default=[], help="MODEL=f1+c0, repeatable")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()

    import otelml

    telemetry = otelml.configure("models-api", export_interval_ms=500)
    models = [m for m in args.models.split(",") if m]
    drift = _drift(args.drift)
    predictors = {m: _predictor(m, args.baseline_dir / f"{m}.baseline.json") for m in models}

    rng = np.random.default_rng(11)
    sent = {m: 0 for m in models}
    labelled = {m: 0 for m in models}
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        for model, predict in predictors.items():
            batch = rows(rng, args.batch, drift.get(model, set()), sent[model])
            scores = predict(batch)
            picked = range(0, len(batch), 2)
            otelml.record_actuals(
                model=model,
                ids=[batch[i]["request_id"] for i in picked],
                actuals=[int(rng.random() < scores[i]) for i in picked],
            )
            sent[model] += len(batch)
            labelled[model] += len(picked)
        time.sleep(0.2)
    telemetry.flush()
    telemetry.shutdown()
    print("sent " + json.dumps({"rows": sent, "labelled": labelled}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
