"""Baseline from a 1M-row x 25-column Parquet file: wall time and peak memory, next to pandas.

Run: ``python benchmarks/bench_baseline.py [--rows N]``. Each measurement runs in a fresh
subprocess so that peak RSS (``ru_maxrss``) belongs to it alone. Peak memory is reported three
ways: tracemalloc (Python and numpy allocations), Arrow's memory pool peak (Arrow buffers,
invisible to tracemalloc), and the process's max RSS (everything, including imported libraries).

- otelml exact: ``build_baseline(path)`` with the default exact-quantile budget (all values kept).
- otelml sampled: ``max_exact=200_000``: a uniform sample per column, then a second pass.
- pandas: ``pd.read_parquet(path)`` then ``df.quantile([0.1, ..., 0.9])`` (quantiles only; no
  counts, categories or rates).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

N_NUMERIC = 20
N_CATEGORICAL = 5


def make_file(path: Path, rows: int) -> None:
    """Write a seeded Parquet file of ``rows`` rows, 20 numeric and 5 categorical columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    writer = None
    step = 250_000
    for start in range(0, rows, step):
        n = min(step, rows - start)
        cols = {f"num_{i}": rng.normal(i, 1 + i, n) for i in range(N_NUMERIC)}
        cats = np.array([f"v{j}" for j in range(30)])
        cols |= {f"cat_{i}": cats[rng.integers(0, 30, n)] for i in range(N_CATEGORICAL)}
        table = pa.table(cols)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=65_536)
    if writer is not None:
        writer.close()


def measure(mode: str, path: str) -> dict[str, float]:
    """Run one measurement in this process and return its figures."""
    import pyarrow as pa

    tracemalloc.start()
    t0 = time.perf_counter()
    c0 = time.process_time()
    if mode == "pandas":
        import pandas as pd

        df = pd.read_parquet(path)
        numeric = df.select_dtypes("number")
        numeric.quantile([i / 10 for i in range(1, 10)])
    else:
        from otelml.baselines import build_baseline

        kw = {"max_exact": 200_000} if mode == "otelml-sampled" else {}
        build_baseline(path, model="bench", version="1", **kw)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "tracemalloc_peak_mb": peak / 2**20,
        "arrow_pool_peak_mb": pa.default_memory_pool().max_memory() / 2**20,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    """Generate the file, run each mode in a subprocess and print a table with ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--measure", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ref.parquet"
        make_file(path, args.rows)
        print(
            f"{args.rows:,} rows x {N_NUMERIC + N_CATEGORICAL} columns "
            f"({N_NUMERIC} numeric, {N_CATEGORICAL} categorical), "
            f"{path.stat().st_size / 2**20:.0f} MiB Parquet"
        )
        results = {}
        for mode in ("pandas", "otelml-exact", "otelml-sampled"):
            out = subprocess.run(
                [sys.executable, __file__, "--measure", mode, str(path)],
                check=True,
                capture_output=True,
                text=True,
            )
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    base = results["pandas"]
    print(
        f"{'mode':<16}{'wall s':>8}{'cpu s':>8}{'tracemalloc MiB':>17}{'arrow MiB':>11}"
        f"{'maxrss MiB':>12}{'cpu x':>8}{'rss x':>7}"
    )
    for mode, r in results.items():
        print(
            f"{mode:<16}{r['wall_s']:>8.2f}{r['cpu_s']:>8.2f}{r['tracemalloc_peak_mb']:>17.0f}"
            f"{r['arrow_pool_peak_mb']:>11.0f}{r['maxrss_mb']:>12.0f}"
            f"{r['cpu_s'] / base['cpu_s']:>8.2f}{r['maxrss_mb'] / base['maxrss_mb']:>7.2f}"
        )


if __name__ == "__main__":
    main()
