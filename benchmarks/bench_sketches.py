"""Throughput of the sketches' ``update_many`` on 1M float64 values, against bare numpy.

For each sketch: the median time of several runs, values/s, and the ratio to
``np.bincount(np.searchsorted(edges, x), minlength=...)`` on the same values and the same bins
(the histogram's edges; the exponential histogram's bucket boundaries after the update),
measured in the same process. Then small batches (1 to 4096 values per call) into sketches that
already hold the 1M values, as an instrumented model sends them: microseconds per call. Times
are CPU time of this thread (``time.thread_time``), which a busy machine disturbs far less than
wall-clock time; the wall-clock median and the load average are printed too. Run:
``python benchmarks/bench_sketches.py [--n 1000000] [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from otelml.stats.exponential import ExponentialHistogram, lower_boundary
from otelml.stats.histogram import FixedHistogram
from otelml.stats.moments import Moments


def median_seconds(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Return the median (CPU, wall-clock) seconds of ``fn()`` after one warm-up call."""
    fn()  # warm-up (lookup tables, caches)
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.thread_time(), time.perf_counter()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def searchsorted_baseline(x: npt.NDArray[np.float64], edges: npt.NDArray[np.float64]) -> object:
    return np.bincount(np.searchsorted(edges, x), minlength=edges.size + 1)


def exponential_edges(h: ExponentialHistogram) -> npt.NDArray[np.float64]:
    """Return the bucket boundaries of ``h`` as sorted edges (negative buckets mirrored)."""
    parts = []
    for b, sign in ((h.negative, -1.0), (h.positive, 1.0)):
        if b.counts.size:
            idx = np.arange(b.offset, b.offset + b.counts.size + 1)
            bounds = sign * lower_boundary(idx, h.scale)
            parts.append(np.sort(bounds))
    return np.unique(np.concatenate(parts))


SMALL_SIZES = (1, 16, 64, 256, 4096)


def per_call_seconds(
    sketch: ExponentialHistogram | FixedHistogram,
    data: npt.NDArray[np.float64],
    size: int,
    repeat: int,
) -> float:
    """Return the median CPU seconds of one ``update_many`` of ``size`` values into ``sketch``."""
    calls = max(20, 100_000 // size)
    starts = np.arange(calls) * size % (data.size - size)
    batches = [data[i : i + size].copy() for i in starts]

    def run() -> None:
        for b in batches:
            sketch.update_many(b)

    cpu, _ = median_seconds(run, repeat)
    return cpu / calls


def small_batch_rows(
    x: npt.NDArray[np.float64], mixed: npt.NDArray[np.float64], repeat: int
) -> list[tuple[str, list[float]]]:
    """Return (sketch, seconds per call for each of SMALL_SIZES), each filled with its data."""
    edges = np.quantile(x, np.linspace(0.0, 1.0, 13)[1:-1])
    cases: list[
        tuple[str, Callable[[], ExponentialHistogram | FixedHistogram], npt.NDArray[np.float64]]
    ] = [
        ("FixedHistogram, 11 edges", lambda: FixedHistogram(edges), x),
        ("Exponential (160), lognormal", ExponentialHistogram, x),
        ("Exponential (160), normal, +-", ExponentialHistogram, mixed),
    ]
    rows = []
    for name, make, data in cases:
        sketch = make()
        sketch.update_many(data)  # filled: buckets and scale already settled
        rows.append((name, [per_call_seconds(sketch, data, k, repeat) for k in SMALL_SIZES]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.lognormal(0.0, 1.0, args.n)
    mixed = rng.standard_normal(args.n)

    rows: list[tuple[str, tuple[float, float], tuple[float, float]]] = []
    for k in (11, 100):
        edges = np.quantile(x, np.linspace(0.0, 1.0, k + 2)[1:-1])
        base = median_seconds(lambda e=edges: searchsorted_baseline(x, e), args.repeat)
        hist = FixedHistogram(edges)
        t = median_seconds(lambda h=hist: h.update_many(x), args.repeat)
        rows.append((f"FixedHistogram, {k} edges", t, base))
    for name, data in (("lognormal", x), ("normal, +-", mixed)):
        probe = ExponentialHistogram()
        probe.update_many(data)
        edges = exponential_edges(probe)
        base = median_seconds(lambda d=data, e=edges: searchsorted_baseline(d, e), args.repeat)
        t = median_seconds(lambda d=data: ExponentialHistogram().update_many(d), args.repeat)
        rows.append((f"Exponential (160), {name}", t, base))
    base11 = rows[0][2]
    rows.append(("Moments", median_seconds(lambda: Moments().update_many(x), args.repeat), base11))

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"update_many of {args.n:,} float64 values, median of {args.repeat} runs")
    print(f"load average (1, 5, 15 min) at the end: {load}; {os.cpu_count()} CPUs")
    print(
        f"{'sketch':<32} {'cpu ms':>8} {'Mvalues/s':>10} {'base ms':>8} {'speed-up':>9}"
        f" {'wall ms':>8} {'base wall':>10}"
    )
    for name, (t, tw), (b, bw) in rows:
        print(
            f"{name:<32} {t * 1e3:8.2f} {args.n / t / 1e6:10.1f} {b * 1e3:8.2f} {b / t:8.2f}x"
            f" {tw * 1e3:8.2f} {bw * 1e3:10.2f}"
        )
    print("base: np.bincount(np.searchsorted(edges, x), minlength=k+1) on the same values and")
    print("bins (Exponential rows: its bucket boundaries after the update, 11 edges for Moments)")
    print()
    print("update_many of small batches into a sketch already holding them: CPU us per call")
    print(f"{'sketch':<32} " + " ".join(f"{k:>8}" for k in SMALL_SIZES))
    for name, secs in small_batch_rows(x, mixed, args.repeat):
        print(f"{name:<32} " + " ".join(f"{t * 1e6:8.2f}" for t in secs))
    print(
        f"load average (1, 5, 15 min) at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
