"""collector/metadata.yaml lists exactly what the processor emits: names, types, units, labels.

A real evaluation over generated data (drift, a categorical feature, an exponential-only
feature, segments, a version on a fallback baseline, self-telemetry of every kind) is scraped
and parsed back; the set of metric names and each metric's label names must equal the file's,
both ways, and the OTLP push must carry the same attribute keys.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from otelml.processor.evaluate.performance import PerformanceEvaluator
from otelml.processor.export import prometheus as prom
from otelml.processor.export.otlp_push import build_metrics_data
from otelml.stats.baseline import Baseline

from . import joindata, promtext
from .evaldata import (
    T0,
    close_registries,  # noqa: F401 - autouse fixture
    current_updates,
    make_aggregator,
    make_baseline,
    make_context,
)

METADATA = Path(__file__).resolve().parents[2] / "collector" / "metadata.yaml"
KIND = {"gauge": "gauge", "sum": "counter", "histogram": "histogram"}


@pytest.fixture(scope="module")
def metadata() -> dict:  # type: ignore[type-arg]
    with METADATA.open(encoding="utf-8") as fh:
        data: dict = yaml.safe_load(fh)  # type: ignore[type-arg]
    return data


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    baseline = make_baseline(n=5000)
    ups = current_updates(baseline, drifted=("f1", "c0", "score"), minutes=10)
    ups += current_updates(baseline, segment="country=US", minutes=10, seed=2)
    ups += current_updates(baseline, version="1.1.0", minutes=10, seed=3)
    ctx = make_context(make_aggregator(ups), tmp_path_factory.mktemp("meta") / "db")
    ctx.registry.put(baseline)
    ctx.evaluator.evaluate()
    # The ground-truth join (tests/processor/joindata.py emits every metric it has), with a
    # baseline carrying labelled reference scores so CBPE runs.
    rng = np.random.default_rng(0)
    ref = rng.uniform(size=2000)
    ctx.registry.put(
        Baseline(
            "m",
            "1",
            {},
            reference_scores={
                "scores": ref.tolist(),
                "labels": (rng.uniform(size=2000) < ref).astype(int).tolist(),
            },
            performance={"accuracy": 0.75},
        )
    )
    cfg = joindata.config(joins={"max_pending_actuals": 2}, performance={"min_labels": 10})
    joins = joindata.open_joins(tmp_path_factory.mktemp("joins") / "db", cfg, clock=lambda: T0)
    joindata.everything(joins, T0)
    ctx.extras["joins"] = joins
    ctx.extras["performance"] = PerformanceEvaluator(joins, ctx.registry, cfg, clock=lambda: T0)
    tel = ctx.telemetry
    tel.received("metrics", 5)
    tel.accepted("metrics", 4)
    tel.rejected("metrics", "malformed", 1)
    tel.overflow("features", 1)
    tel.event("ml.prediction", 3)
    text = prom.exposition(ctx)
    otlp = build_metrics_data(prom.collect(ctx), start_ns=0, now_ns=int(T0 * 1e9))
    joins.close()
    return promtext.parse(text), otlp


def _emitted_labels(fam: promtext.ParsedFamily) -> set[tuple[str, ...]]:
    out = set()
    for sample, labels, _ in fam.samples:
        names = set(labels)
        if sample.endswith("_bucket") and fam.type == "histogram":
            names.discard("le")
        out.add(tuple(sorted(names)))
    return out


def test_metric_names_equal_both_ways(metadata, scraped) -> None:  # type: ignore[no-untyped-def]
    fams, _ = scraped
    assert set(fams) == set(metadata["metrics"])


def test_label_sets_equal(metadata, scraped) -> None:  # type: ignore[no-untyped-def]
    fams, _ = scraped
    for name, spec in metadata["metrics"].items():
        assert _emitted_labels(fams[name]) == {tuple(sorted(spec["attributes"]))}, name
        for attr in spec["attributes"]:
            assert attr in metadata["attributes"], f"{name}: attribute {attr} not described"


def test_types_units_and_help(metadata, scraped) -> None:  # type: ignore[no-untyped-def]
    fams, _ = scraped
    for name, spec in metadata["metrics"].items():
        [kind] = [k for k in ("gauge", "sum", "histogram") if k in spec]
        assert fams[name].type == KIND[kind], name
        m = prom.METRICS_BY_NAME[name]
        assert spec["unit"] == m.unit, name
        assert spec["description"] == m.help == fams[name].help, name
        if kind == "sum":
            assert spec["sum"]["monotonic"] is True
            assert name.endswith("_total")
        assert spec["enabled"] is True


def test_otlp_push_carries_the_same_metrics(metadata, scraped) -> None:  # type: ignore[no-untyped-def]
    _, otlp = scraped
    [rm] = otlp.resource_metrics
    [sm] = rm.scope_metrics
    seen = {}
    for metric in sm.metrics:
        keys = {tuple(sorted(p.attributes)) for p in metric.data.data_points}
        seen[metric.name] = keys
    want = {prom.METRICS_BY_NAME[n].otlp_name: s for n, s in metadata["metrics"].items()}
    assert set(seen) == set(want)
    for name, keys in seen.items():
        assert keys == {tuple(sorted(want[name]["attributes"]))}, name
