"""Processor ingest throughput on one core: metric data points/s, spans/s, log records/s.

Runs the receivers' path in process, without sockets: protobuf decode (as the receivers do,
into the lazy request classes) → ingest (Python loops over points / spans) → the store's writer
(group commit of the log row to SQLite with synchronous=FULL, cumulative→delta conversion,
sketch building, Aggregator.apply) → ack. Prints items/s, CPU µs per item, the share of each
stage, and with ``--profile`` a cProfile summary of the request thread and of the writer thread.

CPU figures depend on the host: the reference loop printed first and last is the yardstick, and
"@ref11" rescales the CPU per item to a core on which that loop takes 11 µs (an idle modern x86
core), so runs on busy shared hosts compare.

    .venv/bin/python benchmarks/bench_processor_ingest.py [--quick] [--profile] [--signals metrics]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.processor.otlpdata import (
    CUMULATIVE,
    hist_metric,
    log_record,
    logs_request,
    metrics_request,
    model_attrs,
    span,
    sum_metric,
    traces_request,
)

from otelml import semconv
from otelml.processor.receive.ingest import ingest_metrics, metrics_replayer
from otelml.processor.receive.logs import ingest_logs
from otelml.processor.receive.otlp import decode_request
from otelml.processor.receive.series import IngestOptions
from otelml.processor.receive.spans import ingest_spans
from otelml.processor.state.aggregator import Aggregator, Limits
from otelml.processor.state.store import Store

EDGES = [float(x) for x in np.linspace(-3, 3, 11)]


def metric_requests(n_requests: int, replicas: int = 40, features: int = 25) -> list[bytes]:
    """Requests like a Collector batch: per replica, per feature a histogram + missing counter,
    per model a prediction count; cumulative, so every request after the first is converted."""
    rng = np.random.default_rng(1)
    out = []
    start = time.time_ns()
    for r in range(n_requests):
        metrics = []
        hist_points, miss_points, pred_points = [], [], []
        for rep in range(replicas):
            for f in range(features):
                counts = (rng.integers(0, 50, len(EDGES) + 1) * (r + 1)).tolist()
                attrs = model_attrs(f"model{rep % 4}", feature=f"f{f}", **{"replica": str(rep)})
                hist_points.append((attrs, EDGES, counts, float(sum(counts))))
                miss_points.append((attrs, r + 1))
            pred_points.append((model_attrs(f"model{rep % 4}", replica=str(rep)), 100 * (r + 1)))
        metrics.append(
            hist_metric(
                semconv.FEATURE_VALUES.name, hist_points, temporality=CUMULATIVE, start_ns=start
            )
        )
        metrics.append(
            sum_metric(
                semconv.FEATURE_MISSING.name, miss_points, temporality=CUMULATIVE, start_ns=start
            )
        )
        metrics.append(
            sum_metric(
                semconv.PREDICTION_COUNT.name, pred_points, temporality=CUMULATIVE, start_ns=start
            )
        )
        out.append(metrics_request(*metrics).SerializeToString())
    return out


def span_requests(n_requests: int, per_request: int = 1024) -> list[bytes]:
    rng = np.random.default_rng(2)
    out = []
    for _ in range(n_requests):
        spans = []
        for _ in range(per_request):
            attrs: dict[str, object] = {
                semconv.feature_attribute(f"f{j}"): float(rng.normal()) for j in range(22)
            }
            for j in range(3):
                attrs[semconv.feature_attribute(f"c{j}")] = f"v{rng.integers(0, 20)}"
            attrs.update(
                {
                    semconv.PREDICTION_VALUE: float(rng.random()),
                    semconv.MODEL_VERSION: "1",
                    semconv.ENVIRONMENT: "production",
                    semconv.MODEL_NAME: "fraud",
                }
            )
            spans.append(span(attrs))
        out.append(traces_request(spans).SerializeToString())
    return out


def log_requests(n_requests: int, per_request: int = 4096) -> list[bytes]:
    out = []
    for _ in range(n_requests):
        recs = [
            log_record(
                semconv.PREDICTION_EVENT,
                {
                    semconv.MODEL_NAME: "fraud",
                    semconv.PREDICTION_ID: f"p{i}",
                    semconv.PREDICTION_VALUE: 0.5,
                },
            )
            for i in range(per_request)
        ]
        out.append(logs_request(recs).SerializeToString())
    return out


SIGNALS: dict[str, tuple[type, Callable[..., object]]] = {
    "metrics": (metrics_service_pb2.ExportMetricsServiceRequest, ingest_metrics),
    "traces": (trace_service_pb2.ExportTraceServiceRequest, ingest_spans),
    "logs": (logs_service_pb2.ExportLogsServiceRequest, ingest_logs),
}


def _profile_writer(store: Store, prof: cProfile.Profile) -> None:
    """Profile the store's writer thread too (cProfile sees only the thread it runs in).

    The writer thread calls the function its :class:`GroupCommitWriter` was given, so that
    is the one wrapped (:func:`run` puts the original back).
    """
    write = store._writer._write

    def profiled(batch: Any) -> None:
        prof.enable()
        try:
            write(batch)
        finally:
            prof.disable()

    store._writer._write = profiled


def _print_profile(title: str, prof: cProfile.Profile) -> None:
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(12)
    print(f"  -- {title}")
    print("\n".join(s.getvalue().splitlines()[6:24]))


def run(signal: str, bodies: list[bytes], store: Store, profile: bool, ref_us: float) -> None:
    _, ingest = SIGNALS[signal]
    opts = IngestOptions()
    stages = {"decode": 0.0, "ingest": 0.0, "store+apply": 0.0}
    items = 0
    prof = cProfile.Profile() if profile else None
    writer_prof = cProfile.Profile() if profile else None
    # The first request is not timed: it imports the sketches, fills the per-series caches
    # and opens the cumulative streams; the figures are for steady state.
    warm = ingest(decode_request(signal, bodies[0], "protobuf"), opts, time.time())  # type: ignore[arg-type]
    if warm.has_data:  # type: ignore[attr-defined]
        store.submit(warm).result()  # type: ignore[arg-type]
    write = store._writer._write
    if writer_prof is not None:
        _profile_writer(store, writer_prof)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if prof:
        prof.enable()
    for body in bodies[1:]:
        t0 = time.process_time()
        msg = decode_request(signal, body, "protobuf")  # type: ignore[arg-type]
        t1 = time.process_time()
        res = ingest(msg, opts, time.time())
        t2 = time.process_time()
        if res.has_data:  # type: ignore[attr-defined]
            # The writer thread's CPU time is part of the process time measured here.
            store.submit(res).result()  # type: ignore[arg-type]
        t3 = time.process_time()
        items += res.items  # type: ignore[attr-defined]
        stages["decode"] += t1 - t0
        stages["ingest"] += t2 - t1
        stages["store+apply"] += t3 - t2
    if prof:
        prof.disable()
    store._writer._write = write
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    share = ", ".join(f"{k} {100 * v / cpu:.0f}%" for k, v in stages.items())
    us = 1e6 * cpu / items
    print(
        f"{signal:8s} {items:7d} items {items / wall:9,.0f} items/s wall {items / cpu:9,.0f} "
        f"items/s CPU {us:7.2f} µs CPU/item ({us * 11 / ref_us:6.2f} @ref11; {share})"
    )
    if prof and writer_prof:
        _print_profile("request thread", prof)
        _print_profile("writer thread", writer_prof)


def reference_loop_us() -> float:
    """Return the CPU µs of a fixed pure-Python loop: the yardstick to compare machines by.

    About 10-12 µs on an idle modern x86 core; on a busy shared host it is higher, and the
    figures above scale with it.
    """
    t0 = time.process_time()
    for _ in range(2000):
        sum(range(1000))
    return (time.process_time() - t0) / 2000 * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    parser.add_argument(
        "--signals", default="metrics,traces,logs", help="comma-separated signals to run"
    )
    args = parser.parse_args()
    wanted = [s for s in args.signals.split(",") if s]
    unknown = set(wanted) - set(SIGNALS)
    if unknown:
        parser.error(f"unknown signals: {sorted(unknown)}")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    n = 3 if args.quick else 10
    ref_us = reference_loop_us()
    print(f"reference loop sum(range(1000)): {ref_us:.1f} µs CPU")
    print("building payloads ...", flush=True)
    builders: dict[str, Callable[[], list[bytes]]] = {
        "metrics": lambda: metric_requests(n),
        "traces": lambda: span_requests(max(3, n // 2)),
        "logs": lambda: log_requests(max(3, n // 2)),
    }
    payloads = {signal: builders[signal]() for signal in wanted}
    for signal, bodies in payloads.items():
        size = sum(map(len, bodies)) / len(bodies) / 1e6
        print(f"  {signal}: {len(bodies)} requests, {size:.2f} MB each")
    with tempfile.TemporaryDirectory() as d:
        agg = Aggregator(60, limits=Limits(max_models=100, max_features_per_model=1000))
        store = Store(
            Path(d) / "bench.db",
            agg,
            compact_interval_s=3600,
            replay=metrics_replayer(IngestOptions()),
        )
        store.open()
        for signal, bodies in payloads.items():
            run(signal, bodies, store, args.profile, ref_us)
        t0 = time.perf_counter()
        store.close()
        print(f"final compaction of {agg.window_count()} windows: {time.perf_counter() - t0:.2f} s")
    print(f"reference loop sum(range(1000)): {reference_loop_us():.1f} µs CPU")


if __name__ == "__main__":
    main()
