"""Small bodies that expand to huge ones, many at once, never blow up memory or disk.

Seen before: ten concurrent 60 KB gzip bodies, each expanding to 60 MiB, took the processor from
94 MB to 1,672 MB of RSS and grew SQLite by 757 MB, all answered 200: each request was capped,
but not how many were decompressed at once.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import sqlite3
import urllib.request
from collections.abc import Callable
from pathlib import Path

from otelml import semconv

from .conftest import ServiceProcess
from .otlpdata import metrics_request, model_attrs, sum_metric

MIB = 1024 * 1024


def _bomb(mib: int) -> bytes:
    """A valid OTLP request of ``mib`` MiB (one huge resource attribute), gzipped."""
    req = metrics_request(
        sum_metric(semconv.FEATURE_MISSING.name, [(model_attrs(model="bomb", feature="x"), 1)]),
        resource={"service.name": "app", "padding": "a" * (mib * MIB)},
    )
    return gzip.compress(req.SerializeToString(), compresslevel=9)


def _post(url: str, body: bytes) -> tuple[int, str | None]:
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return int(r.status), r.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.headers.get("Retry-After")


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _rows(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        log = conn.execute("SELECT COUNT(*) FROM otelml_log").fetchone()[0]
        windows = conn.execute("SELECT COUNT(*) FROM otelml_windows").fetchone()[0]
    return int(log), int(windows)


def _concurrently(url: str, bodies: list[bytes]) -> list[tuple[int, str | None]]:
    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(lambda b: _post(url, b), bodies))


def test_ten_concurrent_gzip_bombs(processor_service: Callable[..., ServiceProcess]) -> None:
    svc = processor_service()
    url = svc.http_url + "/v1/metrics"
    before_rss = _peak_rss_mib(svc.proc.pid)
    before_rows = _rows(svc.db_path)
    bomb = _bomb(60)
    assert len(bomb) < 100 * 1024
    answers = _concurrently(url, [bomb] * 10)
    grown = _peak_rss_mib(svc.proc.pid) - before_rss
    print(
        f"10 bombs of {len(bomb)} bytes -> 60 MiB: answers {sorted(a for a, _ in answers)}, "
        f"peak RSS +{grown:.0f} MiB"
    )
    assert all(status == 413 for status, _ in answers)
    assert grown <= 200
    assert _rows(svc.db_path) == before_rows
    ok = metrics_request(
        sum_metric(semconv.FEATURE_MISSING.name, [(model_attrs(model="bomb", feature="x"), 1)])
    )
    assert _post(url, gzip.compress(ok.SerializeToString()))[0] == 200


def test_bodies_beyond_the_inflight_budget_are_told_to_retry(
    processor_service: Callable[..., ServiceProcess],
) -> None:
    # Bombs under the ratio cap (no padding trick): the budget alone bounds what is held.
    svc = processor_service(
        env={"OTELML_LIMITS__MAX_INFLIGHT_MIB": "16", "OTELML_LIMITS__MAX_GZIP_RATIO": "1000000"}
    )
    url = svc.http_url + "/v1/metrics"
    before_rows = _rows(svc.db_path)
    answers = _concurrently(url, [_bomb(12)] * 6)
    statuses = sorted(a for a, _ in answers)
    print(f"6 x 12 MiB against a 16 MiB budget: {statuses}")
    assert 503 in statuses
    assert all(retry == "1" for status, retry in answers if status == 503)
    # Whatever was admitted is a valid request (one point): nothing else reached the store.
    assert _rows(svc.db_path)[0] - before_rows[0] <= statuses.count(200)
