"""An example service instrumented with otelml, run as a subprocess by the stack tests.

    python app_example.py --baseline fraud.baseline.json --seconds 8 --drift f1,c0

It installs the OpenTelemetry SDK with ``otelml.configure`` (OTLP/gRPC to
``OTEL_EXPORTER_OTLP_ENDPOINT``), serves "requests" in a loop for ``--seconds``: each request is
timed as an HTTP server would be (``http.server.request.duration``, OTel HTTP semantic
conventions, 5 % answered 500) and calls a ``predict`` decorated with ``otelml.observe`` on a
batch of rows (segment ``country``), then reports ground truth for a part of the predictions
with ``otelml.record_actuals``. Features named in ``--drift`` are drawn from a shifted
distribution; ``f2`` is missing in 10 % of rows and ``f0`` NaN in 2 %. Reference data for the
baseline comes from :func:`reference_frame` with the same seedable generator.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

MODEL, VERSION = "fraud", "1.0.0"
CATEGORIES = ("a", "b", "c")
REF_P = (0.5, 0.3, 0.2)
DRIFT_P = (0.15, 0.25, 0.6)
COUNTRIES = ("US", "DE")


def reference_frame(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Return reference columns: f0..f2 normal, c0 categorical, score in (0, 1), its label."""
    score = rng.beta(2.0, 5.0, n)
    return {
        "f0": rng.normal(0.0, 1.0, n),
        "f1": rng.normal(0.0, 1.0, n),
        "f2": rng.normal(0.0, 1.0, n),
        "c0": rng.choice(np.array(CATEGORIES, dtype=object), n, p=REF_P),
        "score": score,
        # calibrated labels, so that CBPE fitted on the reference has something to estimate
        "label": (rng.random(n) < score).astype(np.int64),
    }


def rows(rng: np.random.Generator, n: int, drift: set[str], start_id: int) -> list[dict[str, Any]]:
    """Return ``n`` request rows (features, country, request_id) with ``drift`` applied."""
    cols: dict[str, Any] = {
        f: rng.normal(1.5 if f in drift else 0.0, 1.0, n) for f in ("f0", "f1", "f2")
    }
    cols["c0"] = rng.choice(
        np.array(CATEGORIES, dtype=object), n, p=DRIFT_P if "c0" in drift else REF_P
    )
    out = []
    for i in range(n):
        row: dict[str, Any] = {
            "request_id": f"r{start_id + i}",
            "country": COUNTRIES[i % 2],
            "f0": float("nan") if rng.random() < 0.02 else float(cols["f0"][i]),
            "f1": float(cols["f1"][i]),
            "c0": str(cols["c0"][i]),
        }
        if rng.random() >= 0.10:
            row["f2"] = float(cols["f2"][i])
        out.append(row)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--drift", default="")
    args = parser.parse_args()

    from opentelemetry import metrics

    import otelml

    telemetry = otelml.configure("fraud-api", export_interval_ms=500)
    http_duration = metrics.get_meter("example.http.server").create_histogram(
        "http.server.request.duration", unit="s", description="Duration of HTTP server requests."
    )

    @otelml.observe(
        model=MODEL,
        version=VERSION,
        task="binary_classification",
        baseline=args.baseline,
        id_from="request_id",
        segment_by=["country"],
    )
    def predict(batch: list[dict[str, Any]]) -> np.ndarray:
        f1 = np.array([r["f1"] for r in batch])
        return np.asarray(1.0 / (1.0 + np.exp(-(f1 - 1.0))))

    rng = np.random.default_rng(7)
    drift = {f for f in args.drift.split(",") if f}
    deadline = time.monotonic() + args.seconds
    sent = 0
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        batch = rows(rng, args.batch, drift, sent)
        scores = predict(batch)
        status = 500 if rng.random() < 0.05 else 200
        http_duration.record(
            time.perf_counter() - t0 + 0.01,
            {
                "http.request.method": "POST",
                "http.route": "/predict",
                "http.response.status_code": status,
            },
        )
        labelled = [i for i in range(len(batch)) if i % 2 == 0]
        otelml.record_actuals(
            model=MODEL,
            ids=[batch[i]["request_id"] for i in labelled],
            actuals=[int(rng.random() < scores[i]) for i in labelled],
        )
        sent += len(batch)
        time.sleep(0.2)
    telemetry.flush()
    telemetry.shutdown()
    print(f"sent {sent} rows", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
