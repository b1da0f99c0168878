"""Ground-truth join: throughput, pending-store size on disk, CBPE time per window.

Usage: python benchmarks/bench_joins.py [--pending 1000000] [--actuals 100000] [--batch 2000]

Prints
- predictions/s stored (``--pending`` predictions, requests of ``--batch``);
- pending-store size on disk per million predictions (SQLite main file + WAL after a
  checkpoint, i.e. the join's tables and the performance cells);
- actuals/s joined with ``--pending`` predictions waiting, and the same with a small store
  (10,000 waiting) in the same process, as a ratio: how much a large pending store costs;
- CBPE: fitting the estimator on 5,000 reference scores (once per baseline) and estimating one
  window from its 1,002-bin score histogram; and a whole PerformanceEvaluator pass.

Every commit is fsynced (``storage.synchronous: full``, the default) on whatever disk the
temporary directory is on.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from otelml import semconv
from otelml.processor.config import ProcessorConfig
from otelml.processor.evaluate.performance import PerformanceEvaluator
from otelml.processor.state.joins import Joins
from otelml.processor.state.observations import LogEvent
from otelml.processor.state.perfkeys import SCORE_EDGES
from otelml.stats.cbpe import CBPEEstimator

T0 = 1_700_000_000.0
NS = 1_000_000_000


def _predictions(ids: range, rng: np.random.Generator) -> list[LogEvent]:
    base = {
        semconv.MODEL_NAME: "bench",
        semconv.MODEL_VERSION: "1",
        semconv.MODEL_TASK: "binary_classification",
        semconv.ENVIRONMENT: "production",
    }
    scores = rng.uniform(size=len(ids))
    return [
        LogEvent(
            semconv.PREDICTION_EVENT,
            {
                **base,
                semconv.PREDICTION_ID: f"{i:032x}",
                semconv.PREDICTION_VALUE: float(s),
                semconv.PREDICTION_LABEL: "1" if s > 0.5 else "0",
            },
            int((T0 + i * 0.01) * NS),
        )
        for i, s in zip(ids, scores, strict=True)
    ]


def _actuals(ids: np.ndarray, rng: np.random.Generator) -> list[LogEvent]:
    labels = rng.integers(0, 2, ids.size)
    return [
        LogEvent(
            semconv.ACTUAL_EVENT,
            {
                semconv.MODEL_NAME: "bench",
                semconv.PREDICTION_ID: f"{i:032x}",
                semconv.ACTUAL_LABEL: str(y),
            },
            int((T0 + 86400) * NS),
        )
        for i, y in zip(ids.tolist(), labels.tolist(), strict=True)
    ]


def _feed(j: Joins, events: list[LogEvent], batch: int) -> float:
    t = time.perf_counter()
    for k in range(0, len(events), batch):
        j.apply(events[k : k + batch])
    return time.perf_counter() - t


def _store(path: Path, pending: int, batch: int, rng: np.random.Generator) -> tuple[Joins, float]:
    j = Joins(path, ProcessorConfig(), clock=lambda: T0 + 2 * 86400)
    j.open()
    elapsed = 0.0
    step = 100_000
    for start in range(0, pending, step):
        elapsed += _feed(j, _predictions(range(start, min(start + step, pending)), rng), batch)
    return j, elapsed


def _size(j: Joins) -> int:
    assert j._conn is not None
    j._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in (j.path, Path(str(j.path) + "-wal")) if p.exists())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pending", type=int, default=1_000_000)
    ap.add_argument("--actuals", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=2000)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        small, _ = _store(Path(tmp) / "small.db", 10_000, args.batch, rng)
        n_small = min(args.actuals, 10_000)
        t_small = _feed(small, _actuals(rng.permutation(10_000)[:n_small], rng), args.batch)
        small.close()

        big, t_pred = _store(Path(tmp) / "big.db", args.pending, args.batch, rng)
        size = _size(big)
        print(
            f"predictions stored: {args.pending / t_pred:,.0f}/s "
            f"({args.pending:,} in {t_pred:.1f} s)"
        )
        print(
            f"pending store on disk: {size / 2**20:,.1f} MiB = "
            f"{size / args.pending * 1e6 / 2**20:,.0f} MiB per million predictions"
        )
        ids = rng.choice(args.pending, size=min(args.actuals, args.pending), replace=False)
        t_act = _feed(big, _actuals(ids, rng), args.batch)
        rate_big, rate_small = ids.size / t_act, n_small / t_small
        print(
            f"actuals joined with {args.pending:,} pending: {rate_big:,.0f}/s; "
            f"with 10,000 pending: {rate_small:,.0f}/s (ratio {rate_big / rate_small:.2f})"
        )

        ref = rng.uniform(size=5000)
        labels = (rng.uniform(size=5000) < ref).astype(int)
        t = time.perf_counter()
        est = CBPEEstimator.fit(ref, labels)
        t_fit = time.perf_counter() - t
        counts = np.bincount(
            np.searchsorted(SCORE_EDGES, rng.uniform(size=100_000)), minlength=SCORE_EDGES.size + 1
        )
        reps = 200
        t = time.perf_counter()
        for _ in range(reps):
            est.estimate_histogram(SCORE_EDGES, counts)
        t_est = (time.perf_counter() - t) / reps
        print(
            f"CBPE: fit on 5,000 reference scores {t_fit * 1e3:.1f} ms (once per baseline); "
            f"estimate per window {t_est * 1e3:.2f} ms"
        )

        class _Registry:
            generation = 0

            def get(self, model: str, version: str) -> object:
                from otelml.processor.evaluate.baselines import BaselineEntry, BaselineInfo
                from otelml.stats.baseline import Baseline

                b = Baseline(
                    "bench",
                    "1",
                    {},
                    reference_scores={"scores": ref.tolist(), "labels": labels.tolist()},
                )
                return BaselineEntry(b, BaselineInfo("bench", "1", "api", 0.0, 0, ""), version)

        ev = PerformanceEvaluator(big, _Registry(), big.config, clock=lambda: T0 + 3600)
        t = time.perf_counter()
        out = ev.evaluate()
        t_eval = time.perf_counter() - t
        print(
            f"performance evaluation pass ({len(out)} series, CBPE fit included): "
            f"{t_eval * 1e3:.1f} ms"
        )
        big.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
