"""The join end to end: a real ``otelml serve``, kill -9 between predictions and actuals, and the
real instrumentation in separate processes (predictions from one, actuals from another)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from otelml import semconv

from . import promtext
from .conftest import ServiceProcess
from .otlpdata import kvs, logs_request

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _post_logs(svc: ServiceProcess, records: list) -> int:  # type: ignore[type-arg]
    body = logs_request(records).SerializeToString()
    req = urllib.request.Request(
        svc.http_url + "/v1/logs", data=body, headers={"Content-Type": "application/x-protobuf"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return int(resp.status)


def _record(event: str, attrs: dict, t_ns: int):  # type: ignore[no-untyped-def,type-arg]
    from opentelemetry.proto.logs.v1 import logs_pb2

    return logs_pb2.LogRecord(time_unix_nano=t_ns, event_name=event, attributes=kvs(attrs))


def _scrape(svc: ServiceProcess) -> dict[str, promtext.ParsedFamily]:
    with urllib.request.urlopen(svc.metrics_url + "/metrics", timeout=10) as resp:
        return promtext.parse(resp.read().decode())


def _value(fams: dict[str, promtext.ParsedFamily], name: str, **labels: str) -> float | None:
    fam = fams.get(name)
    if fam is None:
        return None
    for _, got, v in fam.samples:
        if all(got.get(k) == want for k, want in labels.items()):
            return v
    return None


def _wait_for(svc: ServiceProcess, name: str, want: float, timeout: float = 60, **labels: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        fams = _scrape(svc)
        if _value(fams, name, **labels) == want:
            return fams
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}{labels} != {want}: {_value(fams, name, **labels)}")
        time.sleep(0.3)


def test_join_survives_kill9_between_prediction_and_actual(
    processor_service: Callable[..., ServiceProcess],
) -> None:
    svc = processor_service()
    now = time.time_ns()
    rng = np.random.default_rng(3)
    scores = rng.uniform(size=200)
    labels = (rng.uniform(size=200) < scores).astype(int)
    base = {
        semconv.MODEL_NAME: "crash",
        semconv.MODEL_VERSION: "1",
        semconv.MODEL_TASK: "binary_classification",
    }
    preds = [
        _record(
            semconv.PREDICTION_EVENT,
            {**base, semconv.PREDICTION_ID: f"p{i}", semconv.PREDICTION_VALUE: float(s)},
            now,
        )
        for i, s in enumerate(scores)
    ]
    for i in range(0, 200, 50):
        assert _post_logs(svc, preds[i : i + 50]) == 200
    svc.kill9()  # acknowledged, then gone without any cleanup

    svc = processor_service()
    acts = [
        _record(
            semconv.ACTUAL_EVENT,
            {
                semconv.MODEL_NAME: "crash",
                semconv.PREDICTION_ID: f"p{i}",
                semconv.ACTUAL_LABEL: str(y),
            },
            now + 60 * 10**9,
        )
        for i, y in enumerate(labels)
    ]
    assert _post_logs(svc, acts) == 200
    fams = _scrape(svc)  # acknowledged means joined: no waiting
    assert _value(fams, "otelml_actuals_total", model="crash", outcome="joined") == 200
    assert _value(fams, "otelml_predictions_pending", model="crash") is None
    pred = (scores > 0.5).astype(int)
    total = sum(
        v
        for _, lab, v in fams["otelml_performance_confusion_total"].samples
        if lab["model"] == "crash" and lab["segment"] == ""
    )
    assert total == 200
    assert _value(
        fams, "otelml_performance_metric", model="crash", segment="", metric="accuracy"
    ) == pytest.approx(accuracy_score(labels, pred), abs=1e-12)


_PREDICT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import otelml

    tel = otelml.configure("app", protocol="grpc", export_interval_ms=3_600_000)

    @otelml.observe(model="fraud", version="2", task="binary_classification",
                    id_from="request_id", log_predictions=True, segment_by=["country"])
    def predict(rows):
        x = np.array([r["amount"] for r in rows])
        p = 1.0 / (1.0 + np.exp(-x))
        return np.column_stack([1.0 - p, p])

    rng = np.random.default_rng(11)
    out = []
    for b in range(4):
        rows = [{"request_id": f"r{b}-{i}", "amount": float(rng.normal()),
                 "country": "US" if i % 2 else "FR"} for i in range(50)]
        proba = predict(rows)
        out += [[r["request_id"], float(p)] for r, p in zip(rows, proba[:, 1])]
    tel.flush()
    tel.shutdown()
    json.dump(out, open(sys.argv[1], "w"))
    """
)

_LABEL = textwrap.dedent(
    """
    import json, sys
    import otelml

    tel = otelml.configure("labeler", protocol="grpc", export_interval_ms=3_600_000)
    rows = json.load(open(sys.argv[1]))
    otelml.record_actuals(model="fraud", ids=[r[0] for r in rows], actuals=[r[1] for r in rows])
    tel.flush()
    tel.shutdown()
    """
)


def test_instrumented_predictions_and_later_actuals_show_on_metrics(
    processor_service: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    svc = processor_service()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{svc.grpc_endpoint}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
    }
    full_env = {**os.environ, **env}
    scores_file = tmp_path / "scores.json"
    (tmp_path / "predict.py").write_text(_PREDICT)
    subprocess.run(
        [sys.executable, str(tmp_path / "predict.py"), str(scores_file)],
        env=full_env,
        check=True,
        timeout=120,
    )
    rows = json.loads(scores_file.read_text())
    rng = np.random.default_rng(5)
    labelled = [[rid, int(rng.uniform() < s)] for rid, s in rows[:150]]  # 50 never labelled
    labels_file = tmp_path / "labels.json"
    labels_file.write_text(json.dumps(labelled))
    (tmp_path / "label.py").write_text(_LABEL)
    _wait_for(svc, "otelml_predictions_pending", 200, model="fraud")
    subprocess.run(
        [sys.executable, str(tmp_path / "label.py"), str(labels_file)],
        env=full_env,
        check=True,
        timeout=120,
    )
    fams = _wait_for(svc, "otelml_actuals_total", 150, model="fraud", outcome="joined")
    assert _value(fams, "otelml_predictions_pending", model="fraud") == 50
    y = np.array([lab for _, lab in labelled])
    s = np.array([sc for _, sc in rows[:150]])
    pred = (s > 0.5).astype(int)
    got = {
        m: _value(
            fams, "otelml_performance_metric", model="fraud", version="2", segment="", metric=m
        )
        for m in ("accuracy", "f1")
    }
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert got["f1"] == pytest.approx(f1_score(y, pred), abs=1e-12)
    assert _value(fams, "otelml_label_coverage_ratio", model="fraud", segment="") == 0.75
    segs = {
        lab["segment"]
        for _, lab, _ in fams["otelml_performance_predictions_labeled_total"].samples
        if lab["model"] == "fraud"
    }
    assert segs == {"", "country=FR", "country=US"}
    with urllib.request.urlopen(
        svc.metrics_url + "/api/v1/models/fraud/versions/2/performance", timeout=10
    ) as resp:
        body = json.loads(resp.read())
    [all_rows] = [seg for seg in body["segments"] if seg["segment"] == ""]
    assert all_rows["labeled"] == 150
    assert all_rows["predictions"] == 200
