"""Predictions now, labels later from another process: realised performance appears.

Run: ``python examples/delayed_labels.py``. It starts its own ``otelml serve`` (a temporary
SQLite file, free loopback ports) unless given one: ``--processor http://127.0.0.1:9464 --otlp
http://127.0.0.1:4317`` (or ``OTELML_EXAMPLE_PROCESSOR`` and ``OTEL_EXPORTER_OTLP_ENDPOINT``).

1. A classifier is trained on scikit-learn's bundled breast-cancer data; its baseline, with the
   scores and labels of a held-out reference set (what CBPE calibrates on), goes to the processor.
2. The app scores the "production" rows with ``@otelml.observe(..., id_from="request_id")``:
   every prediction leaves as an ``ml.prediction`` log record keyed by its request id. The
   processor estimates performance from the scores alone (CBPE); nothing is realised yet.
3. Some seconds later another process (this file with ``--record-actuals``), which knows only
   the request ids and its own source of truth, calls ``otelml.record_actuals`` for most ids.
4. The processor joins them and ``GET /api/v1/models/{m}/versions/{v}/performance`` shows
   realised next to estimated performance, and the label coverage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import otelml
from otelml.baselines import build_baseline

MODEL, VERSION = "breast-cancer", "1.0.0"
LABELLED_SHARE = 0.8  # the labeller never learns the outcome of the other rows


def split() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    """Return train, reference and production rows (features, label); the same in every process."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_rest, y_train, y_rest = train_test_split(X, y, train_size=0.4, random_state=0)
    X_ref, X_prod, y_ref, y_prod = train_test_split(X_rest, y_rest, test_size=0.5, random_state=0)
    return X_train, y_train, X_ref, y_ref, X_prod, y_prod


def request_id(row_index: int) -> str:
    return f"req-{row_index:04d}"


def labelled_ids(y_prod: pd.Series) -> dict[str, int]:
    """Return the labels the labeller learns: a fixed ``LABELLED_SHARE`` of the production rows."""
    rng = np.random.default_rng(7)
    chosen = rng.random(len(y_prod)) < LABELLED_SHARE
    return {
        request_id(i): int(v) for i, v, c in zip(y_prod.index, y_prod, chosen, strict=True) if c
    }


# --- the processor ------------------------------------------------------------------------------


@contextlib.contextmanager
def processor(api_url: str | None, otlp: str | None) -> Iterator[tuple[str, str]]:
    """Yield (API URL, OTLP endpoint): the given processor, or an ``otelml serve`` started here."""
    if api_url:
        yield api_url.rstrip("/"), otlp or "http://127.0.0.1:4317"
        return
    with tempfile.TemporaryDirectory(prefix="otelml-example-") as tmp:
        env = {
            **os.environ,
            "OTELML_STORAGE__PATH": str(Path(tmp) / "otelml.db"),
            "OTELML_RECEIVERS__GRPC__ENDPOINT": "127.0.0.1:0",
            "OTELML_RECEIVERS__HTTP__ENDPOINT": "127.0.0.1:0",
            "OTELML_EXPORT__PROMETHEUS__ENDPOINT": "127.0.0.1:0",
            "PYTHONUNBUFFERED": "1",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "otelml", "serve"],
            env=env,
            stdout=subprocess.PIPE,  # stderr stays the terminal's: its errors show
            text=True,
        )
        try:
            addresses = _wait_ready(proc)
            print(f"started otelml serve: API {addresses['metrics']}")
            yield addresses["metrics"], "http://" + addresses["otlp-grpc"].removeprefix("grpc://")
        finally:
            proc.terminate()  # SIGTERM: a graceful stop
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, str]:
    """Read ``otelml: NAME listening on URL`` lines until ``otelml: ready``."""
    addresses: dict[str, str] = {}
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # keeps draining after ready, so the pipe never fills
            name, sep, url = line.strip().removeprefix("otelml: ").partition(" listening on ")
            if sep:
                addresses[name] = url
            elif line.strip() == "otelml: ready":
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.1):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"otelml serve did not start (exit status {proc.poll()})")
    return addresses


def api(url: str, method: str = "GET", body: bytes | None = None) -> dict[str, Any] | None:
    """Return the JSON answer of the processor's API, or None on 404."""
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def performance(api_url: str, until: Any, timeout: float = 60) -> dict[str, Any]:
    """Poll the performance route until ``until(all-rows segment)`` holds; return that segment."""
    url = f"{api_url}/api/v1/models/{MODEL}/versions/{VERSION}/performance"
    deadline = time.monotonic() + timeout
    while True:
        answer = api(url)
        if answer is not None:
            [seg] = [s for s in answer["segments"] if s["segment"] == ""]
            if until(seg):
                return seg
        if time.monotonic() > deadline:
            raise TimeoutError(f"the processor did not get there in {timeout:.0f} s: {answer}")
        time.sleep(0.3)


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


# --- the two processes --------------------------------------------------------------------------


def serve_and_wait(args: argparse.Namespace) -> None:
    X_train, y_train, X_ref, y_ref, X_prod, y_prod = split()
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pipeline.fit(X_train, y_train)

    with processor(args.processor, args.otlp) as (api_url, otlp):
        # The baseline: reference features, plus the model's scores and the true labels there.
        reference = X_ref.assign(score=pipeline.predict_proba(X_ref)[:, 1], label=y_ref.values)
        baseline = build_baseline(
            reference, model=MODEL, version=VERSION, prediction="score", label="label"
        )
        url = f"{api_url}/api/v1/models/{MODEL}/versions/{VERSION}/baseline"
        api(url, "PUT", baseline.to_json().encode())
        print(f"baseline uploaded: {len(X_ref)} reference rows with scores and labels")

        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp
        os.environ.setdefault("OTEL_EXPORTER_OTLP_INSECURE", "true")
        telemetry = otelml.configure(service_name="delayed-labels-app", export_interval_ms=1000)

        @otelml.observe(
            model=MODEL, version=VERSION, task="binary_classification", id_from="request_id"
        )
        def predict(rows: pd.DataFrame) -> np.ndarray:
            return pipeline.predict_proba(rows.drop(columns="request_id"))

        production = X_prod.assign(request_id=[request_id(i) for i in X_prod.index])
        scores = np.concatenate(
            [predict(production.iloc[lo : lo + 25])[:, 1] for lo in range(0, len(production), 25)]
        )
        telemetry.flush()
        n = len(production)
        print(
            f"predictions made: {n} in pid {os.getpid()} (ids {request_id(X_prod.index[0])}, ...)"
        )

        seg = performance(api_url, lambda s: s["predictions"] == n)
        print(
            f"before labels: coverage {seg['coverage'] or 0:.1%}, realised accuracy "
            f"{fmt(seg['metrics'].get('accuracy'))}, "
            f"estimated accuracy (CBPE) {fmt(seg['estimated'].get('accuracy'))}"
        )

        # Labels come from somewhere else, some seconds later: another process.
        started = time.monotonic()
        subprocess.run(
            [sys.executable, __file__, "--record-actuals", "--otlp", otlp, "--delay", "2"],
            check=True,
            timeout=120,
        )
        labels = labelled_ids(y_prod)
        seg = performance(api_url, lambda s: s["labeled"] == len(labels))
        print(f"labels joined {time.monotonic() - started:.1f} s after the labeller started")

        print(f"predictions: {seg['predictions']}, labelled: {seg['labeled']}")
        print(f"label coverage: {seg['coverage']:.1%}")
        for metric in ("accuracy", "f1", "roc_auc"):
            std = seg["estimated_std_errors"].get(metric)
            print(
                f"{metric}: realised {fmt(seg['metrics'].get(metric))}, "
                f"estimated (CBPE) {fmt(seg['estimated'].get(metric))}"
                + (f" ± {std:.3f}" if std is not None else "")
                + f", baseline {fmt(seg['baseline'].get(metric))}"
            )
        flagged = sorted(m for m, flag in seg["divergence"].items() if flag)
        print(f"CBPE estimate diverges from the realised figures: {', '.join(flagged) or 'no'}")
        # The same labelled rows, scored here: what the processor's realised figure must equal.
        keep = [i for i, rid in enumerate(production["request_id"]) if rid in labels]
        truth = [labels[production["request_id"].iloc[i]] for i in keep]
        local = accuracy_score(truth, (scores[keep] > 0.5).astype(int))
        print(f"accuracy of the same rows by scikit-learn: {local:.3f}")
        print(f"performance status: {seg['status']}")
        telemetry.shutdown()


def record_actuals(args: argparse.Namespace) -> None:
    """The labeller: knows request ids and outcomes, nothing of the model."""
    time.sleep(args.delay)
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = args.otlp
    os.environ.setdefault("OTEL_EXPORTER_OTLP_INSECURE", "true")
    telemetry = otelml.configure(service_name="delayed-labels-labeller")
    labels = labelled_ids(split()[5])
    sent = otelml.record_actuals(model=MODEL, ids=list(labels), actuals=list(labels.values()))
    telemetry.shutdown()  # flushes the ml.actual records before the process ends
    print(f"labeller (pid {os.getpid()}): sent {sent} actuals")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processor", default=os.environ.get("OTELML_EXAMPLE_PROCESSOR"))
    parser.add_argument("--otlp", default=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    parser.add_argument("--record-actuals", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--delay", type=float, default=2.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.record_actuals:
        record_actuals(args)
    else:
        serve_and_wait(args)


if __name__ == "__main__":
    main()
