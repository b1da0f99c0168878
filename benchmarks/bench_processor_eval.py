"""Evaluation and scrape time of the processor for many models x features.

Builds an Aggregator holding M models x F numeric features (plus each model's prediction
series), W one-minute windows per series inside the evaluation window, counted on the baseline
edges (10 quantile bins) as instrumented apps send them; baselines in the registry, a few
features per model shifted so that drift is found. Then times one full evaluation
(``Evaluator.evaluate``: window merge, compare, decide, quality, ranking) and one ``/metrics``
rendering, and prints the figures with the per-feature cost and the ratio to a 10-model run in
the same process (linear scaling gives 10x).

    python benchmarks/bench_processor_eval.py [--models 100] [--features 100] [--windows 10]
        [--no-bin-share] [--no-quality-gauges]

The last two turn the ``export.prometheus`` options of the same names off.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from otelml.processor.config import ProcessorConfig
from otelml.processor.evaluate.baselines import BaselineRegistry
from otelml.processor.evaluate.evaluator import Evaluator
from otelml.processor.export.prometheus import exposition
from otelml.processor.state.aggregator import (
    PREDICTION_FEATURE,
    Aggregator,
    FeatureWindow,
    SeriesKey,
    Update,
)
from otelml.processor.state.context import ProcessorContext
from otelml.processor.telemetry import ProcessorTelemetry
from otelml.stats.baseline import Baseline, FeatureBaseline
from otelml.stats.histogram import FixedHistogram

NOW = 1_700_000_040.0
EDGES = tuple(
    float(x)
    for x in np.quantile(np.random.default_rng(0).normal(size=100_000), np.linspace(0.1, 0.9, 9))
)


def _ref_counts(n: int) -> tuple[int, ...]:
    return tuple([n // 10] * 10)


def build(
    models: int, features: int, windows: int, rows: int = 200
) -> tuple[Aggregator, BaselineRegistry]:
    rng = np.random.default_rng(1)
    agg = Aggregator(resolution_s=60, clock=lambda: NOW, limits=None)
    agg.limits = type(agg.limits)(max_models=models + 1, max_features_per_model=features + 1)
    reg = BaselineRegistry()
    edges = np.asarray(EDGES)
    for m in range(models):
        name = f"model{m:03d}"
        fbs = {
            f"f{i:03d}": FeatureBaseline(
                name=f"f{i:03d}",
                kind="numeric",
                edges=EDGES,
                ref_counts=_ref_counts(10_000),
                count=10_000,
                min=-4.0,
                max=4.0,
                mean=0.0,
                std=1.0,
                importance=1.0 / (i + 1),
            )
            for i in range(features)
        }
        pred = FeatureBaseline(
            name="score", kind="numeric", edges=EDGES, ref_counts=_ref_counts(10_000), count=10_000
        )
        reg.put(Baseline(model=name, version="1", features=fbs, prediction=pred))
        ups: list[Update] = []
        for w in range(windows):
            ws = int(NOW) - 60 * (w + 1)
            for i in range(features + 1):
                feature = PREDICTION_FEATURE if i == features else f"f{i:03d}"
                x = rng.normal(1.0 if i < 3 else 0.0, 1.0, rows)  # the first 3 features drift
                h = FixedHistogram(edges)
                h.update_many(x)
                key = SeriesKey(name, "1", "production", feature)
                ups.append(Update(key, ws, FeatureWindow(numeric=h, rows=rows)))
        agg.apply(ups)
    return agg, reg


def run(
    models: int, features: int, windows: int, *, bin_share: bool = True, quality: bool = True
) -> dict[str, float]:
    t0 = time.perf_counter()
    agg, reg = build(models, features, windows)
    setup = time.perf_counter() - t0
    tel = ProcessorTelemetry()
    config = ProcessorConfig()
    prom = dataclasses.replace(
        config.export.prometheus, bin_share=bin_share, quality_gauges=quality
    )
    config = dataclasses.replace(config, export=dataclasses.replace(config.export, prometheus=prom))
    ev = Evaluator(agg, reg, config=config, telemetry=tel, clock=lambda: NOW)
    ev.evaluate()  # warm-up (imports, caches)
    t0, c0 = time.perf_counter(), time.process_time()
    evals = ev.evaluate()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    drifted = sum(e.features_drifted for e in evals)
    ctx = ProcessorContext(
        config=config,
        aggregator=agg,
        telemetry=tel,
        db_path=None,  # type: ignore[arg-type]
        clock=lambda: NOW,
        registry=reg,
        evaluator=ev,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    text = exposition(ctx)  # first scrape after an evaluation renders everything
    scrape, scrape_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    exposition(ctx)  # later scrapes reuse the evaluation's rendered part
    cached, cached_cpu = time.perf_counter() - t0, time.process_time() - c0
    reg.close()
    return {
        "setup_s": setup,
        "eval_s": wall,
        "eval_cpu_s": cpu,
        "scrape_s": scrape,
        "scrape_cpu_s": scrape_cpu,
        "cached_s": cached,
        "cached_cpu_s": cached_cpu,
        "series": models * (features + 1),
        "drifted": drifted,
        "lines": text.count("\n"),
        "bytes": len(text),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", type=int, default=100)
    p.add_argument("--features", type=int, default=100)
    p.add_argument("--windows", type=int, default=10)
    p.add_argument("--no-bin-share", action="store_true")
    p.add_argument("--no-quality-gauges", action="store_true")
    a = p.parse_args()
    opts = {"bin_share": not a.no_bin_share, "quality": not a.no_quality_gauges}
    print(f"export.prometheus: bin_share={opts['bin_share']}, quality_gauges={opts['quality']}")
    small = run(max(1, a.models // 10), a.features, a.windows, **opts)
    big = run(a.models, a.features, a.windows, **opts)
    for label, r, m in (("small", small, max(1, a.models // 10)), ("full", big, a.models)):
        print(
            f"{label}: {m} models x {a.features} features x {a.windows} windows "
            f"({r['series']:.0f} series): evaluate {r['eval_s']:.3f} s wall "
            f"({r['eval_cpu_s']:.3f} s CPU, "
            f"{1e6 * r['eval_cpu_s'] / r['series']:.0f} us CPU/series), "
            f"/metrics {r['scrape_s']:.3f} s ({r['scrape_cpu_s']:.3f} s CPU; cached "
            f"{r['cached_s']:.3f} s, {r['cached_cpu_s']:.3f} s CPU; "
            f"{r['lines']:.0f} lines, {r['bytes'] / 1e6:.1f} MB), "
            f"drifted features {r['drifted']:.0f}, setup {r['setup_s']:.1f} s"
        )
    print(
        f"ratio full/small (CPU): evaluate {big['eval_cpu_s'] / small['eval_cpu_s']:.1f}x, "
        f"/metrics {big['scrape_cpu_s'] / small['scrape_cpu_s']:.1f}x (linear = 10x)"
    )


if __name__ == "__main__":
    main()
