"""Scale-out end to end: an app, the real Collector, two processor replicas, Prometheus.

All real processes on free loopback ports:

    app_models.py (otelml.observe, 4 models, drift on f1 and c0 of 2 of them)
      --OTLP/gRPC--> the otelml Collector (collector/build.sh) running the SHIPPED
                     collector/configs/loadbalancing.yaml (ports and replicas via its env vars)
          --load_balancing, routing_key: attributes [ml.model.name]--> otelml serve  x 2
                                                  (every model's baseline PUT on both replicas)
    Prometheus 2.42: the shipped prometheus.yml scraping both replicas and the Collector, the
                     shipped recording and alert rules (`for` shortened to 2s, intervals 1s)

At v0.161.0 the exporter routes spans, metrics (per data point) and logs by the attribute, so a
model's metrics, spans, prediction records and actuals all land on one replica. The models are
picked so that each replica owns two (one drifted, one not), with a re-implementation of the
exporter's consistent-hash ring (``ring_owner``), which the test also checks against where the
data really went.

Checked: each model's data is on exactly one replica, the predicted one, and both replicas are
used; the replicas' counters summed by Prometheus equal the rows the app sent, exactly, and the
recording rule sums the replicas; OtelmlFeatureDrift fires, from Prometheus's own rule
evaluation, for exactly the drifted (model, feature) pairs, on both replicas, and nothing else
is even pending.
"""

from __future__ import annotations

import dataclasses
import json
import re
import struct
import subprocess
import sys
import urllib.parse
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from e2e import LOOPBACK, build_collector, free_port, prometheus_binary

from .app_example import VERSION
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
from .stackfiles import COLLECTOR_DIR, prometheus_test_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LB_CONFIG = COLLECTOR_DIR / "configs" / "loadbalancing.yaml"
FEATURES = {"f0", "f1", "f2", "c0"}
DRIFTED_FEATURES = {"f1", "c0"}
CANDIDATES = tuple(f"model-{c}" for c in "abcdefghijklmnopqrstuvwxyz")
MODELS_PER_REPLICA = 2
APP_SECONDS = 8.0
SCRAPE = "1s"
ROUTING_ATTRIBUTE = "ml.model.name"

# The contrib load_balancing exporter's hash ring (consistent_hashing.go at v0.161.0).
RING_POSITIONS = 131071
RING_WEIGHT = 200
RING_PROBE_LIMIT = 10


def _crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def ring_owner(endpoints: Iterable[str], routing_key: str) -> str:
    """Return the endpoint that the load_balancing exporter picks for ``routing_key``.

    Each endpoint gets ``RING_WEIGHT`` points at crc32(endpoint + little-endian i) mod
    ``RING_POSITIONS`` (collisions probe forward); a key goes to the first point at or after
    crc32(key) mod ``RING_POSITIONS``, wrapping around.
    """
    candidates = []
    for endpoint in sorted(endpoints):
        for i in range(RING_WEIGHT):
            h = _crc32(endpoint.encode() + struct.pack("<I", i))
            candidates.append((h % RING_POSITIONS, h, endpoint))
    candidates.sort()
    taken: dict[int, str] = {}
    for pos, _, endpoint in candidates:
        for _probe in range(RING_PROBE_LIMIT):
            if pos not in taken:
                taken[pos] = endpoint
                break
            pos = (pos + 1) % RING_POSITIONS
    ring = sorted(taken.items())
    target = _crc32(routing_key.encode()) % RING_POSITIONS
    return next((ep for pos, ep in ring if pos >= target), ring[0][1])


def attribute_routing_key(model: str) -> str:
    """Return the exporter's routing key of a data point whose only routing attribute is set."""
    return f"{ROUTING_ATTRIBUTE}={model}|"


@dataclass
class Replica:
    grpc: str  # host:port the Collector sends to
    metrics: str  # http://host:port of /metrics and the API
    instance: str  # Prometheus's instance label


@dataclass
class Stack:
    prometheus: str
    replicas: list[Replica]
    owner: dict[str, int]  # model -> index of the replica the ring sends it to
    drifted: set[str]  # models with drift on DRIFTED_FEATURES
    rows: dict[str, int]  # model -> rows predicted by the app
    labelled: dict[str, int]  # model -> rows given an actual


def _start_replicas(procs: Processes, tmp: Path, n: int) -> list[Replica]:
    started = [
        start_serve(procs, f"otelml-serve-{i + 1}", tmp / f"replica-{i + 1}.db") for i in range(n)
    ]
    replicas = []
    for proc in started:
        addresses = serve_addresses(proc)
        metrics = addresses["metrics"]
        replicas.append(
            Replica(
                grpc=addresses["otlp-grpc"].removeprefix("grpc://"),
                metrics=metrics,
                instance=metrics.removeprefix("http://"),
            )
        )
    return replicas


def _upload_baselines(replicas: list[Replica], models: list[str], out_dir: Path) -> None:
    """Build one reference, save it per model for the app and PUT it on every replica."""
    base = reference_baseline(models[0])
    for model in models:
        doc = dataclasses.replace(base, model=model).to_json()
        (out_dir / f"{model}.baseline.json").write_text(doc)
        for replica in replicas:
            # Upload to every replica: which one owns a model is the Collector's decision, and
            # it changes when replicas come and go.
            status, body = http_send(
                f"{replica.metrics}/api/v1/models/{model}/versions/{VERSION}/baseline",
                doc.encode(),
                "application/json",
                method="PUT",
            )
            assert status in (200, 201), body


def _pick_models(replicas: list[Replica]) -> dict[str, int]:
    """Return MODELS_PER_REPLICA candidate models per replica, as the ring will route them."""
    endpoints = [r.grpc for r in replicas]
    owner: dict[str, int] = {}
    for model in CANDIDATES:
        i = endpoints.index(ring_owner(endpoints, attribute_routing_key(model)))
        if sum(1 for o in owner.values() if o == i) < MODELS_PER_REPLICA:
            owner[model] = i
        if len(owner) == MODELS_PER_REPLICA * len(replicas):
            return owner
    pytest.fail(f"the ring put fewer than {MODELS_PER_REPLICA} candidates on a replica")


def _firing_pairs(prometheus: str) -> set[tuple[str, str]]:
    alerts = prom_query(prometheus, 'ALERTS{alertname="OtelmlFeatureDrift", alertstate="firing"}')
    return {(a["metric"]["model"], a["metric"]["feature"]) for a in alerts}


@pytest.fixture(scope="module")
def stack(stack_processes: Processes, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    prometheus = prometheus_binary()
    collector = build_collector()
    tmp = tmp_path_factory.mktemp("lbstack")
    procs = stack_processes

    replicas = _start_replicas(procs, tmp, 2)
    owner = _pick_models(replicas)
    models = sorted(owner)
    # One drifted and one quiet model per replica, so that both replicas' evaluations count.
    drifted = {min(m for m in models if owner[m] == i) for i in range(len(replicas))}
    _upload_baselines(replicas, models, tmp)

    ports = {
        "OTELCOL_OTLP_GRPC_PORT": free_port(),
        "OTELCOL_OTLP_HTTP_PORT": free_port(),
        "OTELCOL_HEALTH_PORT": free_port(),
        "OTELCOL_TELEMETRY_PORT": free_port(),
    }
    otelcol = procs.start(
        "otelcol",
        [str(collector), f"--config={LB_CONFIG}"],
        env={
            **{k: str(v) for k, v in ports.items()},
            "OTELML_PROCESSOR_REPLICA_1": replicas[0].grpc,
            "OTELML_PROCESSOR_REPLICA_2": replicas[1].grpc,
        },
    )
    wait_http_ok(f"http://{LOOPBACK}:{ports['OTELCOL_HEALTH_PORT']}/", "the Collector", otelcol)

    # loadbalancing.yaml exports to the processors only: no Collector exposes app metrics here.
    config = prometheus_test_config(
        tmp,
        {
            "otelml-processor": [r.instance for r in replicas],
            "otelcol": [f"{LOOPBACK}:{ports['OTELCOL_TELEMETRY_PORT']}"],
        },
        interval=SCRAPE,
        drop_untargeted=True,
    )
    prom_url, prom = start_prometheus(procs, prometheus, config, tmp / "tsdb")

    app = procs.start(
        "app",
        [
            sys.executable,
            str(Path(__file__).with_name("app_models.py")),
            f"--baseline-dir={tmp}",
            "--models=" + ",".join(models),
            *(f"--drift={m}=" + "+".join(sorted(DRIFTED_FEATURES)) for m in sorted(drifted)),
            f"--seconds={APP_SECONDS}",
        ],
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{LOOPBACK}:{ports['OTELCOL_OTLP_GRPC_PORT']}"},
    )
    try:
        app.popen.wait(APP_SECONDS + 30)
    except subprocess.TimeoutExpired:
        pytest.fail("the app did not finish:\n" + app.text()[-3000:])
    assert app.popen.returncode == 0, app.text()
    match = re.search(r"^sent (\{.*\})$", app.text(), re.MULTILINE)
    assert match is not None, app.text()
    sent = json.loads(match.group(1))

    expected = {(m, f) for m in drifted for f in DRIFTED_FEATURES}
    wait_until(
        lambda: _firing_pairs(prom_url) >= expected,
        timeout=30,
        what="OtelmlFeatureDrift to fire for " + ", ".join(sorted(drifted)),
        procs=[prom, otelcol, *procs.started[:2]],
    )
    return Stack(prom_url, replicas, owner, drifted, sent["rows"], sent["labelled"])


def _instances_by_model(stack: Stack, metric: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in prom_query(stack.prometheus, f'{metric}{{segment=""}}'):
        out.setdefault(row["metric"]["model"], set()).add(row["metric"]["instance"])
    return out


def _sum_by_model(stack: Stack, metric: str) -> dict[str, int]:
    rows = prom_query(stack.prometheus, f'sum by (model) ({metric}{{segment=""}})')
    return {r["metric"]["model"]: int(float(r["value"][1])) for r in rows}


def test_ring_reimplementation_spreads_candidates() -> None:
    # The ring is deterministic: the same endpoints give the same owners in any order.
    endpoints = ["127.0.0.1:14317", "127.0.0.1:24317"]
    owners = [ring_owner(endpoints, attribute_routing_key(m)) for m in CANDIDATES]
    assert owners == [ring_owner(endpoints[::-1], attribute_routing_key(m)) for m in CANDIDATES]
    assert set(owners) == set(endpoints)


def test_each_model_lands_on_exactly_one_replica(stack: Stack) -> None:
    instance = {i: r.instance for i, r in enumerate(stack.replicas)}
    expected = {m: {instance[i]} for m, i in stack.owner.items()}
    # Metrics (feature histograms, prediction counts) ...
    assert _instances_by_model(stack, "otelml_predictions_total") == expected
    assert _instances_by_model(stack, "otelml_feature_values_count") == expected
    # ... and log records (ml.prediction, joined with ml.actual) follow the same key.
    assert _instances_by_model(stack, "otelml_performance_predictions_total") == expected
    assert set(stack.owner.values()) == set(range(len(stack.replicas)))
    # The other replica has the model's baseline but got no data: it exports nothing for it.
    everywhere = prom_query(
        stack.prometheus, 'group by (model, instance) ({__name__=~"otelml_.+", model!=""})'
    )
    holders: dict[str, set[str]] = {}
    for row in everywhere:
        holders.setdefault(row["metric"]["model"], set()).add(row["metric"]["instance"])
    assert holders == expected


def test_counts_summed_across_replicas_equal_rows_sent(stack: Stack) -> None:
    total = sum(stack.rows.values())
    query = 'sum(otelml_predictions_total{segment=""})'
    assert_counted_exactly(stack.prometheus, query, total)
    assert _sum_by_model(stack, "otelml_predictions_total") == stack.rows
    # The ml.prediction records, and the actuals joined to them on the owning replica.
    assert _sum_by_model(stack, "otelml_performance_predictions_total") == stack.rows
    wait_until(
        lambda: (
            _sum_by_model(stack, "otelml_performance_predictions_labeled_total") == stack.labelled
        ),
        timeout=10,
        what="every actual joined to its prediction",
    )


def _query_at(stack: Stack, query: str, at: float) -> dict[str, float]:
    """Return ``query`` evaluated at time ``at``, by model ("" when the result has no model)."""
    status, body = http_get(
        f"{stack.prometheus}/api/v1/query?"
        + urllib.parse.urlencode({"query": query, "time": f"{at:.3f}"})
    )
    assert status == 200, body
    rows = json.loads(body)["data"]["result"]
    return {r["metric"].get("model", ""): float(r["value"][1]) for r in rows}


def test_recording_rule_sums_the_replicas(stack: Stack) -> None:
    rule = 'otelml:predictions:rate5m{segment=""}'
    recorded = prom_query(stack.prometheus, f"timestamp({rule})")
    assert {r["metric"]["model"] for r in recorded} == set(stack.owner)
    # The replica labels are gone: one series per model, whichever replica holds it.
    assert all("instance" not in r["metric"] and "job" not in r["metric"] for r in recorded)
    # The rules of a group share one evaluation time: the last one's.
    at = max(float(r["value"][1]) for r in recorded)
    by_rule = _query_at(stack, rule, at)
    by_model = _query_at(
        stack, 'sum by (model) (rate(otelml_predictions_total{segment=""}[5m]))', at
    )
    assert by_rule == pytest.approx(by_model, rel=1e-12)
    assert all(v > 0 for v in by_rule.values())
    total_rule = _query_at(stack, f"sum({rule})", at)[""]
    total_direct = _query_at(stack, 'sum(rate(otelml_predictions_total{segment=""}[5m]))', at)
    assert total_rule == pytest.approx(total_direct[""], rel=1e-12)
    # Both replicas contribute to the fleet's rate.
    per_instance = prom_query(
        stack.prometheus,
        'sum by (instance) (otelml_predictions_total{segment=""})',
    )
    assert {r["metric"]["instance"] for r in per_instance} == {r.instance for r in stack.replicas}


def test_drift_alert_fires_only_for_drifted_features(stack: Stack) -> None:
    expected = {(m, f) for m in stack.drifted for f in DRIFTED_FEATURES}
    alerts = prom_query(stack.prometheus, 'ALERTS{alertname="OtelmlFeatureDrift"}')
    noticed = {(a["metric"]["model"], a["metric"]["feature"]) for a in alerts}
    assert _firing_pairs(stack.prometheus) == expected
    assert noticed == expected  # the quiet features and models are not even pending
    # The drifted models live on different replicas: each replica's evaluation raised its own.
    assert {stack.owner[m] for m in stack.drifted} == set(range(len(stack.replicas)))
    status = {
        (r["metric"]["model"], r["metric"]["feature"], r["metric"]["instance"]): float(
            r["value"][1]
        )
        for r in prom_query(stack.prometheus, 'otelml_feature_drift_status{segment=""}')
    }
    owners = {m: stack.replicas[i].instance for m, i in stack.owner.items()}
    for model in stack.owner:
        for feature in FEATURES:
            want = 2.0 if (model, feature) in expected else 0.0
            assert status[(model, feature, owners[model])] == want, (model, feature)
    # The drift statistics tell the same story: per feature, every drifted model's score is
    # far above every quiet one's (Wasserstein for f1, chi-square for c0, at their defaults).
    scores: dict[str, dict[str, float]] = {}
    for r in prom_query(stack.prometheus, 'otelml_feature_drift_score{segment=""}'):
        scores.setdefault(r["metric"]["feature"], {})[r["metric"]["model"]] = float(r["value"][1])
    for feature in FEATURES:
        drifted = [v for m, v in scores[feature].items() if (m, feature) in expected]
        quiet = [v for m, v in scores[feature].items() if (m, feature) not in expected]
        assert len(drifted) + len(quiet) == len(stack.owner), feature
        if drifted:
            assert min(drifted) > 10 * max(quiet), (feature, scores[feature])
