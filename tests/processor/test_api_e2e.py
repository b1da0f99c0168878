"""End to end over real sockets: OTLP/HTTP in, a pushed baseline, drift out on the API.

A real ``otelml serve`` subprocess receives the instrumentation's metrics (explicit-bucket
histograms on the baseline edges, category counts, prediction values and counts) with ``f1``
and ``c0`` made to drift; ``otelml baseline push`` uploads the baseline; ``/metrics`` and the
status API must show drift on exactly those features.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from otelml import semconv
from otelml.cli.baseline_push import add_push_command

from . import otlpdata, promtext
from .conftest import ServiceProcess
from .evaldata import CATEGORIES, DRIFT_P, NUMERIC, make_baseline

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _post(url: str, body: bytes, ctype: str) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, resp.read()


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def test_drift_end_to_end(processor_service: Callable[..., ServiceProcess], tmp_path: Path) -> None:
    svc = processor_service()
    baseline = make_baseline(n=20_000)
    path = tmp_path / "baseline.json"
    path.write_text(baseline.to_json())
    parser = argparse.ArgumentParser()
    add_push_command(parser.add_subparsers())
    args = parser.parse_args(["push", str(path), "--url", svc.metrics_url])
    assert args.baseline_run(args) == 0

    rng = np.random.default_rng(11)
    n = 3000
    t = time.time_ns()
    hists = []
    for f in NUMERIC:
        edges = baseline.features[f].edges
        x = rng.normal(1.0 if f == "f1" else 0.0, 1.0, n)
        counts = np.bincount(np.searchsorted(edges, x), minlength=len(edges) + 1)
        hists.append(
            (
                otlpdata.model_attrs(version="1.0.0", feature=f),
                edges,
                counts.tolist(),
                float(x.sum()),
            )
        )
    cats = rng.choice(np.array(CATEGORIES, dtype=object), n, p=DRIFT_P)
    cat_points = [
        (
            otlpdata.model_attrs(version="1.0.0", feature="c0", **{semconv.FEATURE_CATEGORY: c}),
            int((cats == c).sum()),
        )
        for c in CATEGORIES
    ]
    assert baseline.prediction is not None
    score = rng.beta(2.0, 5.0, n)
    pedges = baseline.prediction.edges
    pcounts = np.bincount(np.searchsorted(pedges, score), minlength=len(pedges) + 1).tolist()
    req = otlpdata.metrics_request(
        otlpdata.hist_metric(semconv.FEATURE_VALUES.name, hists, time_ns=t),
        otlpdata.sum_metric(semconv.FEATURE_CATEGORY_COUNT.name, cat_points, time_ns=t),
        otlpdata.hist_metric(
            semconv.PREDICTION_VALUES.name,
            [(otlpdata.model_attrs(version="1.0.0"), pedges, pcounts, float(score.sum()))],
            time_ns=t,
        ),
        otlpdata.sum_metric(
            semconv.PREDICTION_COUNT.name, [(otlpdata.model_attrs(version="1.0.0"), n)], time_ns=t
        ),
    )
    status, _ = _post(
        svc.http_url + "/v1/metrics", req.SerializeToString(), "application/x-protobuf"
    )
    assert status == 200

    status, body = _post(svc.metrics_url + "/api/v1/evaluate", b"", "application/json")
    assert status == 200
    assert json.loads(body)["evaluated"][0]["model"] == "fraud"
    st = _get_json(svc.metrics_url + "/api/v1/models/fraud/versions/1.0.0/status")
    by = {d["feature"]: d["status"] for d in st["drift"]}
    assert by == {"f0": "ok", "f1": "drift", "f2": "ok", "f3": "ok", "c0": "drift"}
    assert st["reference"] == "baseline"
    assert st["rows"] == n

    with urllib.request.urlopen(svc.metrics_url + "/metrics", timeout=30) as resp:
        fams = promtext.parse(resp.read().decode())
    codes = {
        s[1]["feature"]: s[2]
        for s in fams["otelml_feature_drift_status"].samples
        if s[1]["segment"] == ""
    }
    assert codes == {"f0": 0, "f1": 2, "f2": 0, "f3": 0, "c0": 2}
    assert svc.terminate() == 0
