"""How a real ``otelml serve`` answers while a client does something heavy: latency percentiles.

    python benchmarks/bench_faults.py [--rounds 200]

Prints ``/healthz`` latency alone (the baseline, measured in the same run), then while one
client sends 7 MB spans with 200k attributes, and OTLP ingest latency alone and while another
client scrapes ``/metrics`` in a loop. Figures are wall-clock on whatever machine runs it: read
the ratios against the baseline, not the absolute numbers. Never fails on a slow machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

PB = {"Content-Type": "application/x-protobuf"}


def _kv(key: str, value: str | int) -> common_pb2.KeyValue:
    v = (
        common_pb2.AnyValue(int_value=value)
        if isinstance(value, int)
        else common_pb2.AnyValue(string_value=value)
    )
    return common_pb2.KeyValue(key=key, value=v)


def big_span_request(n_attrs: int = 200_000) -> bytes:
    attrs = [_kv("ml.model.name", "bench")] + [
        _kv(f"ml.features.f{i}", f"value-{i}") for i in range(n_attrs)
    ]
    span = trace_pb2.Span(
        trace_id=b"\1" * 16,
        span_id=b"\2" * 8,
        name="predict bench",
        start_time_unix_nano=time.time_ns() - 1000,
        end_time_unix_nano=time.time_ns(),
        attributes=attrs,
    )
    req = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[trace_pb2.ResourceSpans(scope_spans=[trace_pb2.ScopeSpans(spans=[span])])]
    )
    return req.SerializeToString()


def metrics_request(i: int) -> bytes:
    now = time.time_ns()
    dps = [
        metrics_pb2.NumberDataPoint(
            attributes=[_kv("ml.model.name", "bench"), _kv("ml.feature.name", f"f{j}")],
            time_unix_nano=now,
            as_int=1,
        )
        for j in range(100)
    ]
    m = metrics_pb2.Metric(
        name="ml.feature.missing",
        sum=metrics_pb2.Sum(data_points=dps, aggregation_temporality=1, is_monotonic=True),
    )
    req = metrics_service_pb2.ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(scope_metrics=[metrics_pb2.ScopeMetrics(metrics=[m])])
        ]
    )
    return req.SerializeToString()


def timed(call: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=60) as r:
        r.read()


def post(url: str, body: bytes) -> None:
    req = urllib.request.Request(url, data=body, headers=PB, method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * len(s)))] * 1000


def while_busy(probe: Callable[[], object], load: Callable[[], object], rounds: int) -> list[float]:
    stop = threading.Event()

    failures: list[BaseException] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                load()
            except OSError as exc:  # noqa: PERF203 - a load request that timed out is a figure
                failures.append(exc)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    time.sleep(0.2)
    try:
        return [timed(probe) for _ in range(rounds)]
    finally:
        stop.set()
        t.join(120)
        if failures:
            print(f"  ({len(failures)} load requests failed: {failures[0]!r})")


def start(db: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = {
        **os.environ,
        "OTELML_STORAGE__PATH": str(db),
        "OTELML_RECEIVERS__GRPC__ENDPOINT": "127.0.0.1:0",
        "OTELML_RECEIVERS__HTTP__ENDPOINT": "127.0.0.1:0",
        "OTELML_EXPORT__PROMETHEUS__ENDPOINT": "127.0.0.1:0",
        "OTELML_LIMITS__MAX_SPAN_FEATURES": "200000",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "otelml", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    addrs: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if " listening on " in line:
            name, _, url = line.strip().removeprefix("otelml: ").partition(" listening on ")
            addrs[name] = url
        if "otelml: ready" in line:
            break
    return proc, addrs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as d:
        proc, addrs = start(Path(d) / "bench.db")
        try:
            health = addrs["metrics"] + "/healthz"
            ingest = addrs["otlp-http"] + "/v1/metrics"
            alone = [timed(lambda: get(health)) for _ in range(args.rounds)]
            span = big_span_request()
            busy = while_busy(
                lambda: get(health),
                lambda: post(addrs["otlp-http"] + "/v1/traces", span),
                args.rounds,
            )
            print(
                f"/healthz p50/p99 alone:                 {pct(alone, 0.5):7.1f} / "
                f"{pct(alone, 0.99):7.1f} ms"
            )
            print(
                f"/healthz p50/p99 with {len(span) / 1e6:.1f} MB spans:    {pct(busy, 0.5):7.1f} / "
                f"{pct(busy, 0.99):7.1f} ms  (p99 x{pct(busy, 0.99) / pct(alone, 0.99):.1f})"
            )
            for i in range(50):
                post(ingest, metrics_request(i))
            body = metrics_request(0)
            solo = [timed(lambda: post(ingest, body)) for _ in range(args.rounds)]
            scraped = while_busy(
                lambda: post(ingest, body), lambda: get(addrs["metrics"] + "/metrics"), args.rounds
            )
            print(
                f"ingest p50/p99 alone:                   {pct(solo, 0.5):7.1f} / "
                f"{pct(solo, 0.99):7.1f} ms"
            )
            print(
                f"ingest p50/p99 while /metrics scraped:  {pct(scraped, 0.5):7.1f} / "
                f"{pct(scraped, 0.99):7.1f} ms  (p99 x{pct(scraped, 0.99) / pct(solo, 0.99):.1f})"
            )
        finally:
            proc.terminate()
            proc.wait(60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
