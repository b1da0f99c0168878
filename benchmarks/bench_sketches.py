"""Throughput of the sketches' ``update_many`` on 1M float64 values, against bare numpy.

Prints values/s (median of several runs) and the ratio to ``np.searchsorted`` +
``np.bincount(minlength=...)`` on the same data and edges, measured in the same process.
Run: ``python benchmarks/bench_sketches.py [--n 1000000] [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram
from otelml.stats.moments import Moments


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up (lookup tables, caches)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    x = np.random.default_rng(0).lognormal(0.0, 1.0, args.n)

    rows: list[tuple[str, float, float]] = []
    for k in (11, 100):
        edges = np.quantile(x, np.linspace(0.0, 1.0, k + 2)[1:-1])
        base = median_seconds(
            lambda e=edges: np.bincount(np.searchsorted(e, x), minlength=e.size + 1), args.repeat
        )
        hist = FixedHistogram(edges)
        t = median_seconds(lambda h=hist: h.update_many(x), args.repeat)
        rows.append((f"FixedHistogram, {k} edges", t, base))
    base11 = rows[0][2]
    rows.append(("ExponentialHistogram (160)", median_seconds(_exp(x), args.repeat), base11))
    rows.append(("Moments", median_seconds(lambda: Moments().update_many(x), args.repeat), base11))

    print(f"update_many of {args.n:,} float64 values, median of {args.repeat} runs")
    print(f"{'sketch':<28} {'ms':>8} {'Mvalues/s':>10} {'baseline ms':>12} {'speed-up':>9}")
    for name, t, b in rows:
        print(f"{name:<28} {t * 1e3:8.2f} {args.n / t / 1e6:10.1f} {b * 1e3:12.2f} {b / t:8.2f}x")
    print("baseline: np.bincount(np.searchsorted(edges, x), minlength=k+1) on the same values")
    print("(11 edges for the ExponentialHistogram and Moments rows)")


def _exp(x: np.ndarray) -> Callable[[], None]:
    def run() -> None:
        ExponentialHistogram().update_many(x)

    return run


if __name__ == "__main__":
    main()
