"""The guard (never raise, count, log once) and the flusher under concurrency, exact counts."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import numpy as np
import pytest

import otelml.instrumentation as oi
import otelml.testing
from otelml import semconv
from otelml.instrumentation import _feature_state, aggregate
from otelml.testing import Capture


def test_broken_output_extractor_returns_real_result(
    telemetry: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(result: Any) -> Any:
        raise RuntimeError("extractor bug")

    f = oi.observe(model="g", outputs=broken)(lambda row: 42)
    with caplog.at_level(logging.WARNING, logger="otelml"):
        assert [f({"a": 1.0}) for _ in range(5)] == [42] * 5
    assert [k for k, _ in telemetry.errors] == ["extract_outputs"] * 5
    assert sum("extract_outputs" in r.getMessage() for r in caplog.records) <= 1
    [p] = telemetry.points(semconv.INSTRUMENTATION_ERRORS.name)
    assert p.attributes == {semconv.ERROR_KIND: "extract_outputs"}
    assert p.value >= 5


def test_setup_failure_runs_model_uninstrumented(
    telemetry: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from otelml.instrumentation.observer import Observer

    def fail(*a: Any, **k: Any) -> Any:
        raise RuntimeError("setup bug")

    monkeypatch.setattr(Observer, "begin", fail)
    f = oi.observe(model="g")(lambda row: 7)
    assert f({"a": 1.0}) == 7
    assert telemetry.spans() == []
    assert [k for k, _ in telemetry.errors] == ["setup"]


def test_export_failure_never_reaches_reader(
    telemetry: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from otelml.instrumentation import flush

    oi.observe(model="g")(lambda row: 1.0)({"a": 1.0})
    monkeypatch.setattr(flush, "build_metrics", lambda *a: 1 / 0)
    assert telemetry.collect() == []
    assert [k for k, _ in telemetry.errors] == ["metrics_export"]


def test_threads_and_concurrent_collection_give_exact_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Force many folds while threads record (rows per series and values per feature).
    monkeypatch.setattr(aggregate, "FOLD_AT", 64)
    monkeypatch.setattr(_feature_state, "FOLD_AT", 64)
    with otelml.testing.capture(delta=True) as telemetry:
        f = oi.observe(model="conc", baseline={"x": [0.0, 1.0, 2.0]})(lambda row: 0.5)
        g = oi.observe(model="conc", baseline={"x": [0.0, 1.0, 2.0]}, feature_names=["x"])(
            lambda arr: np.full(len(arr), 0.5)
        )
        n_threads, per_thread = 4, 500
        stop = threading.Event()
        totals = {"count": 0, "rows": 0}
        buckets = np.zeros(4, dtype=np.int64)

        def absorb() -> None:
            for p in telemetry.collect():
                if p.name == semconv.FEATURE_VALUES.name and p.attributes[semconv.SEGMENT] == "":
                    totals["count"] += p.point.count
                    buckets[:] += np.asarray(p.point.bucket_counts)
                if p.name == semconv.PREDICTION_COUNT.name and p.attributes[semconv.SEGMENT] == "":
                    totals["rows"] += p.point.value

        def collector() -> None:
            while not stop.is_set():
                absorb()

        def worker(seed: int) -> None:
            rng = np.random.default_rng(seed)
            xs = rng.uniform(-1, 3, size=per_thread)
            for x in xs[:250]:
                f({"x": float(x)})
            g(xs[250:].reshape(-1, 1))

        c = threading.Thread(target=collector)
        c.start()
        threads = [threading.Thread(target=worker, args=(s,)) for s in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        c.join()
        absorb()
        allx = np.concatenate(
            [np.random.default_rng(s).uniform(-1, 3, size=per_thread) for s in range(n_threads)]
        )
        assert totals["rows"] == n_threads * per_thread
        assert totals["count"] == n_threads * per_thread
        expected = np.bincount(np.searchsorted([0.0, 1.0, 2.0], allx, side="left"), minlength=4)
        assert buckets.tolist() == expected.tolist()
        assert telemetry.errors == []


async def test_asyncio_tasks_exact_counts(telemetry: Capture) -> None:
    @oi.observe(model="aio", baseline={"x": [0.5]})
    async def predict(row: dict[str, float]) -> float:
        await asyncio.sleep(0)
        return row["x"]

    await asyncio.gather(*(predict({"x": float(i % 2)}) for i in range(300)))
    [p] = telemetry.points(semconv.FEATURE_VALUES.name, {semconv.SEGMENT: ""})
    assert list(p.bucket_counts) == [150, 150]
    assert len(telemetry.spans()) == 300


def test_cumulative_start_time_is_stable_and_delta_resets() -> None:
    with otelml.testing.capture() as cum:
        f = oi.observe(model="tmp")(lambda row: 1.0)
        f({"a": 1.0})
        [p1] = cum.points(semconv.PREDICTION_COUNT.name, {semconv.SEGMENT: ""})
        f({"a": 1.0})
        [p2] = cum.points(semconv.PREDICTION_COUNT.name, {semconv.SEGMENT: ""})
        assert (p1.value, p2.value) == (1, 2)
        assert p1.start_time_unix_nano == p2.start_time_unix_nano
    with otelml.testing.capture(delta=True) as delta:
        f({"a": 1.0})
        [p1] = delta.points(semconv.PREDICTION_COUNT.name, {semconv.SEGMENT: ""})
        f({"a": 1.0})
        f({"a": 1.0})
        [p2] = delta.points(semconv.PREDICTION_COUNT.name, {semconv.SEGMENT: ""})
        assert (p1.value, p2.value) == (1, 2)
        assert p2.start_time_unix_nano == p1.time_unix_nano
        assert delta.points(semconv.PREDICTION_COUNT.name) == []


def test_two_readers_each_see_every_count() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from otelml.instrumentation.flush import HUB
    from otelml.instrumentation.runtime import RUNTIME

    r1, r2 = InMemoryMetricReader(), InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[r1, r2])
    HUB.drain_now()
    RUNTIME.use_providers(None, mp, None)
    try:
        f = oi.observe(model="two")(lambda row: 1.0)
        for _ in range(3):
            f({"a": 1.0})

        def rows(reader: InMemoryMetricReader) -> int:
            data = reader.get_metrics_data()
            return sum(
                p.value
                for rm in data.resource_metrics
                for sm in rm.scope_metrics
                for m in sm.metrics
                if m.name == semconv.PREDICTION_COUNT.name
                for p in m.data.data_points
            )

        assert rows(r1) == 3
        f({"a": 1.0})
        assert rows(r2) == 4
        assert rows(r1) == 4
    finally:
        RUNTIME.use_providers()
        HUB.detach(mp)
        mp.shutdown()
