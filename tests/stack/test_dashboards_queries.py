"""Every dashboard query against a real Prometheus after an end-to-end run; the drift alert fires.

The stack, all real processes on free loopback ports:

    app_example.py (otelml.observe + OTel SDK, drift on f1 and c0)
      --OTLP/gRPC--> the otelml Collector (collector/build.sh) --> otelml serve (baseline PUT)
                                                   \\--> prometheus exporter (app metrics)
    Prometheus 2.42 (collector/prometheus/prometheus.yml, targets and intervals rewritten,
                     the shipped recording and alert rules, alerts' `for` shortened to 2s)

Then every panel query of every dashboard, with its template variables set to real values, must
return data, except the few listed in ``NO_DATA`` with a reason; every variable query must list
the expected value; OtelmlFeatureDrift must fire for f1 and c0 and for no other feature.

The baseline the processor holds has one feature more than the app sends (``RENAMED``, as if
renamed upstream): it must be reported as ``missing_feature`` and OtelmlMissingFeature must fire
for it alone.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

from e2e import LOOPBACK, build_collector, free_port, prometheus_binary
from otelml import semconv

from .app_example import MODEL, VERSION
from .conftest import (
    Processes,
    assert_counted_exactly,
    http_get,
    http_send,
    prom_query,
    reference_baseline,
    serve_addresses,
    start_prometheus,
    start_serve,
    wait_http_ok,
    wait_until,
)
from .stackfiles import dashboards, prometheus_test_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DRIFTED = {"f1", "c0"}
UNDRIFTED = {"f0", "f2"}
RENAMED = "f0_renamed_upstream"
APP_SECONDS = 8.0
SCRAPE = "1s"

NO_DATA: dict[tuple[str, str, str], str] = {
    # (dashboard uid, panel title, refId): why this query has no data in this test
    ("otelml-models", "Regression errors (1 h, all replicas)", "A"): "regression only",
    ("otelml-models", "Regression errors (1 h, all replicas)", "B"): "regression only",
    ("otelml-models", "Collector → otelml", "B"): "counted only after a failed send",
}
NUMERIC_ONLY = {"Values received over time (numeric)"}
CATEGORICAL_ONLY = {"Categories per second (categorical)", "p-value"}

BASE_VALUES = {
    "model": MODEL,
    "version": VERSION,
    "environment": "production",
    "service": "fraud-api",
    "__rate_interval": "30s",
    "__interval": "1s",
    "__range": "1m",
}


@dataclass
class Stack:
    prometheus: str
    processor_metrics: str
    processes: Processes


def _collector_config(path: Path, processor_grpc: str, ports: dict[str, int]) -> None:
    pipeline = {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["otlp_grpc/otelml"]}
    config = {
        "extensions": {"health_check": {"endpoint": f"{LOOPBACK}:{ports['health']}"}},
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"{LOOPBACK}:{ports['otlp']}"}}}},
        "processors": {"batch": {"timeout": "200ms"}},
        "exporters": {
            "otlp_grpc/otelml": {"endpoint": processor_grpc, "tls": {"insecure": True}},
            # The app's own metrics, the way a Collector exposes them to Prometheus.
            "prometheus/app": {"endpoint": f"{LOOPBACK}:{ports['app_metrics']}"},
        },
        "service": {
            "extensions": ["health_check"],
            "telemetry": {
                "metrics": {
                    "level": "normal",
                    "readers": [
                        {
                            "pull": {
                                "exporter": {
                                    "prometheus": {"host": LOOPBACK, "port": ports["telemetry"]}
                                }
                            }
                        }
                    ],
                }
            },
            "pipelines": {
                "traces": pipeline,
                "logs": pipeline,
                "metrics": {**pipeline, "exporters": ["otlp_grpc/otelml", "prometheus/app"]},
            },
        },
    }
    path.write_text(yaml.safe_dump(config))


def _probe_request() -> bytes:
    """Return an OTLP metrics request of a second model (beyond max_models=1: overflow)."""
    attrs = [
        common_pb2.KeyValue(key=k, value=common_pb2.AnyValue(string_value=v))
        for k, v in (
            (semconv.MODEL_NAME, "probe"),
            (semconv.MODEL_VERSION, "1"),
            (semconv.ENVIRONMENT, "production"),
        )
    ]
    now = time.time_ns()
    metric = metrics_pb2.Metric(
        name=semconv.PREDICTION_COUNT.name,
        sum=metrics_pb2.Sum(
            aggregation_temporality=metrics_pb2.AGGREGATION_TEMPORALITY_DELTA,
            is_monotonic=True,
            data_points=[
                metrics_pb2.NumberDataPoint(
                    attributes=attrs, as_int=5, start_time_unix_nano=now - 10**9, time_unix_nano=now
                )
            ],
        ),
    )
    req = metrics_service_pb2.ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(scope_metrics=[metrics_pb2.ScopeMetrics(metrics=[metric])])
        ]
    )
    return req.SerializeToString()


@pytest.fixture(scope="module")
def stack(stack_processes: Processes, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    prometheus = prometheus_binary()
    tmp = tmp_path_factory.mktemp("stack")
    procs = stack_processes
    collector = build_collector()

    baseline = tmp / "fraud.baseline.json"
    reference = reference_baseline(MODEL)
    baseline.write_text(reference.to_json())
    # The processor's baseline expects a feature that the app never sends.
    renamed = dataclasses.replace(reference.features["f0"], name=RENAMED)
    served = dataclasses.replace(reference, features={**reference.features, RENAMED: renamed})
    addresses = serve_addresses(
        start_serve(procs, "otelml-serve", tmp / "otelml.db", {"OTELML_LIMITS__MAX_MODELS": "1"})
    )
    metrics_url = addresses["metrics"]
    status, body = http_send(
        f"{metrics_url}/api/v1/models/{MODEL}/versions/{VERSION}/baseline",
        served.to_json().encode(),
        "application/json",
        method="PUT",
    )
    assert status in (200, 201), body

    ports = {k: free_port() for k in ("otlp", "health", "telemetry", "app_metrics")}
    _collector_config(tmp / "otelcol.yaml", addresses["otlp-grpc"].removeprefix("grpc://"), ports)
    otelcol = procs.start("otelcol", [str(collector), f"--config={tmp / 'otelcol.yaml'}"])
    wait_http_ok(f"http://{LOOPBACK}:{ports['health']}/", "the Collector", otelcol)

    config = prometheus_test_config(
        tmp,
        {
            "otelml-processor": [metrics_url.removeprefix("http://")],
            "otelcol": [f"{LOOPBACK}:{ports['telemetry']}"],
            "otelcol-app-metrics": [f"{LOOPBACK}:{ports['app_metrics']}"],
        },
        interval=SCRAPE,
    )
    prom_url, prom = start_prometheus(procs, prometheus, config, tmp / "tsdb")

    app = procs.start(
        "app",
        [
            sys.executable,
            str(Path(__file__).with_name("app_example.py")),
            f"--baseline={baseline}",
            f"--seconds={APP_SECONDS}",
            "--drift=" + ",".join(sorted(DRIFTED)),
        ],
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{LOOPBACK}:{ports['otlp']}"},
    )
    # A refused request and a model beyond the cap, so that the processor-health panels have
    # their counters.
    assert (
        http_send(f"{addresses['otlp-http']}/v1/metrics", b"\xff", "application/x-protobuf")[0]
        == 400
    )
    wait_until(
        lambda: prom_query(prom_url, f'otelml_predictions_total{{model="{MODEL}"}}'),
        timeout=30,
        what="the first predictions in Prometheus",
        procs=[app, otelcol, prom],
    )
    http_send(f"{addresses['otlp-http']}/v1/metrics", _probe_request(), "application/x-protobuf")
    app.popen.wait(APP_SECONDS + 30)
    assert app.popen.returncode == 0, app.text()
    # Alerts need two evaluations 2 s apart after the drift shows; rates two scrapes.
    wait_until(
        lambda: (
            len(prom_query(prom_url, 'ALERTS{alertname="OtelmlFeatureDrift", alertstate="firing"}'))
            >= len(DRIFTED)
        ),
        timeout=30,
        what="OtelmlFeatureDrift to fire",
        procs=[prom],
    )
    wait_until(
        lambda: prom_query(
            prom_url, 'ALERTS{alertname="OtelmlMissingFeature", alertstate="firing"}'
        ),
        timeout=30,
        what="OtelmlMissingFeature to fire",
        procs=[prom],
    )
    return Stack(prom_url, metrics_url, procs)


def _interpolate(expr: str, values: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(f"no test value for ${name} in {expr}")
        return values[name]

    # Grafana's variable syntax: $name or ${name} / ${name:format}; "$1" is not a variable.
    return re.sub(r"\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)", sub, expr)


def _assignments(doc: dict[str, Any], kinds: tuple[str, ...]) -> Iterator[dict[str, str]]:
    names = {v["name"] for v in doc["templating"]["list"]}
    segments = ["^$", "country=US"] if "segment" in names else [""]
    features = {"numeric": "f1", "categorical": "c0"}
    for segment, kind in itertools.product(segments, kinds):
        yield {**BASE_VALUES, "segment": segment, "feature": features[kind]}


def _panel_kinds(doc: dict[str, Any], title: str) -> tuple[str, ...]:
    if doc["uid"] != "otelml-feature":
        return ("numeric",)
    if title in NUMERIC_ONLY:
        return ("numeric",)
    if title in CATEGORICAL_ONLY:
        return ("categorical",)
    return ("numeric", "categorical")


def test_every_panel_query_returns_data(stack: Stack) -> None:
    empty: list[str] = []
    allowed_and_empty: set[tuple[str, str, str]] = set()
    checked = 0
    for doc in dashboards().values():
        for panel in doc["panels"]:
            if panel["type"] == "row":
                continue
            for target in panel["targets"]:
                key = (doc["uid"], panel["title"], target["refId"])
                for values in _assignments(doc, _panel_kinds(doc, panel["title"])):
                    query = _interpolate(target["expr"], values)
                    result = prom_query(stack.prometheus, query)
                    checked += 1
                    if result:
                        continue
                    if key in NO_DATA:
                        allowed_and_empty.add(key)
                    else:
                        empty.append(f"{key} segment={values['segment']!r}: {query}")
    assert empty == [], "panel queries without data:\n" + "\n".join(empty)
    assert checked > 100
    # Keep the allowlist honest: an entry whose query now returns data must be removed.
    stale = {k: v for k, v in NO_DATA.items() if k not in allowed_and_empty}
    assert stale == {}, f"NO_DATA entries that now have data: {sorted(stale)}"


def test_template_variable_queries_list_real_values(stack: Stack) -> None:
    expected = {
        "model": MODEL,
        "environment": "production",
        "version": VERSION,
        "feature": "f1",
        "segment": "country=US",
        "service": "fraud-api",
    }
    for doc in dashboards().values():
        for var in doc["templating"]["list"]:
            if var["type"] != "query":
                continue
            m = re.fullmatch(r"label_values\((.+), (\w+)\)", var["query"])
            assert m is not None, var["query"]
            selector = _interpolate(m.group(1), {**BASE_VALUES, "segment": "^$"})
            status, body = http_get(
                f"{stack.prometheus}/api/v1/label/{m.group(2)}/values?"
                + urllib.parse.urlencode({"match[]": selector})
            )
            assert status == 200, body
            assert expected[var["name"]] in json.loads(body)["data"], (doc["uid"], var["name"])


def test_drift_alert_fires_only_for_drifted_features(stack: Stack) -> None:
    alerts = prom_query(stack.prometheus, 'ALERTS{alertname="OtelmlFeatureDrift"}')
    firing = {a["metric"]["feature"] for a in alerts if a["metric"]["alertstate"] == "firing"}
    noticed = {a["metric"]["feature"] for a in alerts}
    assert firing == DRIFTED
    assert noticed == DRIFTED  # not even pending for the others
    status = {
        r["metric"]["feature"]: float(r["value"][1])
        for r in prom_query(
            stack.prometheus, f'otelml_feature_drift_status{{model="{MODEL}", segment=""}}'
        )
    }
    assert {f: status[f] for f in UNDRIFTED} == {f: 0.0 for f in UNDRIFTED}
    # The alert as Prometheus's API reports it, with the shipped annotations filled in.
    _, body = http_get(f"{stack.prometheus}/api/v1/alerts")
    api = [
        a
        for a in json.loads(body)["data"]["alerts"]
        if a["labels"]["alertname"] == "OtelmlFeatureDrift"
    ]
    assert {a["labels"]["feature"] for a in api if a["state"] == "firing"} == DRIFTED
    f1 = next(a for a in api if a["labels"]["feature"] == "f1")
    assert f1["labels"]["severity"] == "warning"
    assert f1["annotations"]["summary"] == f"Feature f1 of model {MODEL} {VERSION} has drifted"


def test_missing_feature_alert_fires_for_the_feature_that_never_arrives(stack: Stack) -> None:
    alerts = prom_query(stack.prometheus, 'ALERTS{alertname="OtelmlMissingFeature"}')
    assert {(a["metric"]["feature"], a["metric"]["alertstate"]) for a in alerts} == {
        (RENAMED, "firing")
    }
    quality = prom_query(
        stack.prometheus,
        f'otelml_feature_quality_ratio{{model="{MODEL}", segment="", issue="missing_feature"}}',
    )
    ratio = {r["metric"]["feature"]: float(r["value"][1]) for r in quality}
    assert ratio.pop(RENAMED) == 1.0
    assert set(ratio) >= DRIFTED | UNDRIFTED
    assert set(ratio.values()) == {0.0}
    [model] = prom_query(stack.prometheus, f'otelml_model_status{{model="{MODEL}"}}')
    assert float(model["value"][1]) == 2.0  # drift outranks the missing feature's warning
    quiet = prom_query(stack.prometheus, 'ALERTS{alertname="OtelmlDataQuality"}')
    assert RENAMED not in {a["metric"]["feature"] for a in quiet}


def test_counts_reach_prometheus_exactly(stack: Stack) -> None:
    # Every row the app predicted is counted once: processor (via the Collector) and the app's
    # own ml.prediction.count agree.
    app_text = next(p for p in stack.processes.started if p.name == "app").text()
    sent = int(re.search(r"sent (\d+) rows", app_text).group(1))  # type: ignore[union-attr]
    query = f'sum(otelml_predictions_total{{model="{MODEL}", segment=""}})'
    assert_counted_exactly(stack.prometheus, query, sent)
