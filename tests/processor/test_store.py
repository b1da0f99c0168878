"""The SQLite store: group commit, rebuild after restart (log replay and compaction), retention."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np

from otelml import semconv
from otelml.processor.receive.ingest import ingest_metrics, metrics_replayer
from otelml.processor.receive.series import IngestOptions
from otelml.processor.receive.spans import ingest_spans
from otelml.processor.state.aggregator import PREDICTION_FEATURE, Aggregator, SeriesKey
from otelml.processor.state.store import Store

from .otlpdata import (
    CUMULATIVE,
    NS,
    hist_metric,
    metrics_request,
    model_attrs,
    span,
    sum_metric,
    traces_request,
)

OPTS = IngestOptions()
AMOUNT = SeriesKey("fraud", "1", "production", "amount", "")
PRED = SeriesKey("fraud", "1", "production", PREDICTION_FEATURE, "")


def submit_all(store: Store, requests: list[bytes]) -> None:
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

    futures = []
    for raw in requests:
        req = metrics_service_pb2.ExportMetricsServiceRequest.FromString(raw)
        futures.append(store.submit(ingest_metrics(req, OPTS, time.time())))
    for f in futures:
        f.result(10)


def requests(start_ns: int, n: int) -> list[bytes]:
    return [
        metrics_request(
            hist_metric(
                semconv.FEATURE_VALUES.name,
                [(model_attrs(feature="amount"), [0.0, 1.0], [i, 1, 2], float(i))],
            ),
            sum_metric(
                semconv.PREDICTION_COUNT.name,
                [(model_attrs(), 10 * (i + 1))],
                temporality=CUMULATIVE,
                start_ns=start_ns,
            ),
        ).SerializeToString()
        for i in range(n)
    ]


def open_store(path: Path, **kw: float) -> tuple[Store, Aggregator]:
    agg = Aggregator(60)
    store = Store(path, agg, replay=metrics_replayer(IngestOptions()), **kw)  # type: ignore[arg-type]
    store.open()
    return store, agg


def test_state_after_restart_equals_state_before(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store, agg = open_store(path, compact_interval_s=3600)
    start = time.time_ns()
    submit_all(store, requests(start, 20))
    before = agg.totals()
    assert before[PRED].rows == 200  # cumulative 10, 20, ..., 200: taken whole, then deltas
    np.testing.assert_array_equal(before[AMOUNT].numeric.counts, [190, 20, 40])
    store.close()
    # Rebuilt from window rows (close compacts).
    store, agg = open_store(path)
    assert agg.totals() == before
    # Another cumulative point continues the same stream: only the increment is added.
    submit_all(store, [requests(start, 21)[-1]])
    assert agg.totals()[PRED].rows == 210
    store.close()


def test_log_replay_without_compaction_gives_the_same_state(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store, agg = open_store(path, compact_interval_s=3600)
    submit_all(store, requests(time.time_ns(), 5))
    # Span-derived updates are logged as JSON rather than as the request.
    spans = traces_request(
        [span({semconv.MODEL_NAME: "fraud", semconv.feature_attribute("a"): x}) for x in (1.0, 2.0)]
    )
    store.submit(ingest_spans(spans, OPTS, time.time())).result(10)
    before = agg.totals()
    assert before[SeriesKey("fraud", "", "production", "a", "")].numeric.count == 2
    # Simulate a crash: stop the writer without compacting, so only the log holds the data.
    store.close(compact=False)
    conn = sqlite3.connect(path)
    kinds = [k for (k,) in conn.execute("SELECT kind FROM otelml_log ORDER BY id")]
    assert kinds == ["m"] * 5 + ["j"]
    assert conn.execute("SELECT count(*) FROM otelml_windows").fetchone()[0] == 0
    conn.close()
    store2, agg2 = open_store(path)
    assert agg2.totals() == before
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM otelml_log").fetchone()[0] == 0  # folded in
    conn.close()
    store2.close()


def test_retention_prunes_sqlite_too(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    now = [time.time()]
    agg = Aggregator(60, retention_s=3600, clock=lambda: now[0])
    store = Store(
        path,
        agg,
        clock=lambda: now[0],
        compact_interval_s=3600,
        replay=metrics_replayer(IngestOptions()),
    )
    store.open()
    old = metrics_request(
        sum_metric(
            semconv.FEATURE_MISSING.name,
            [(model_attrs(feature="amount"), 1)],
            time_ns=int((now[0] - 3000) * NS),
        )
    )
    new = metrics_request(sum_metric(semconv.FEATURE_MISSING.name, [(model_attrs(feature="b"), 1)]))
    submit_all(store, [old.SerializeToString(), new.SerializeToString()])
    now[0] += 1800  # the first window is now beyond the retention
    store.close()
    conn = sqlite3.connect(path)
    features = [r[0] for r in conn.execute("SELECT feature FROM otelml_windows")]
    conn.close()
    assert features == ["b"]
    keys = agg.keys()
    assert [k.feature for k in keys] == ["b"]


def test_db_size_and_queue_depth(tmp_path: Path) -> None:
    store, _ = open_store(tmp_path / "s.db")
    assert store.db_size() > 0
    assert store.queue_depth() == 0
    store.close()
    store.close()  # idempotent
