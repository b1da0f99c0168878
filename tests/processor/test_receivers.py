"""Both OTLP receivers in process, over loopback sockets, with a real store behind them."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp import ClientSession, web
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

from otelml import semconv
from otelml.processor.receive.grpc import make_grpc_server
from otelml.processor.receive.http import make_otlp_http_app
from otelml.processor.receive.ingest import metrics_replayer
from otelml.processor.receive.pipeline import Pipeline
from otelml.processor.receive.series import IngestOptions
from otelml.processor.state.aggregator import Aggregator, SeriesKey
from otelml.processor.state.observations import IngestResult, LogEvent
from otelml.processor.state.store import Store
from otelml.processor.telemetry import ProcessorTelemetry

from .otlpdata import log_record, logs_request, metrics_request, model_attrs, sum_metric

MAX_BODY = 2 * 1024 * 1024
PB = "application/x-protobuf"
METRICS_EXPORT = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
KEY = SeriesKey("fraud", "1", "production", "amount", "")


@dataclass
class Receivers:
    aggregator: Aggregator
    telemetry: ProcessorTelemetry
    pipeline: Pipeline
    store: Store
    http: str
    grpc: str
    events: list[LogEvent]


def missing(n: int, feature: str = "amount") -> bytes:
    req = metrics_request(
        sum_metric(semconv.FEATURE_MISSING.name, [(model_attrs(feature=feature), n)])
    )
    return req.SerializeToString()


async def _start(tmp_path: Path, *, open_store: bool = True) -> tuple[Receivers, Any]:
    telemetry = ProcessorTelemetry()
    aggregator = Aggregator(60)
    store = Store(
        tmp_path / "r.db",
        aggregator,
        telemetry=telemetry,
        queue_size=1,
        replay=metrics_replayer(IngestOptions()),
    )
    if open_store:
        store.open()
    pipeline = Pipeline(store, IngestOptions(max_attribute_length=64), telemetry)
    events: list[LogEvent] = []
    pipeline.event_hooks.append(events.extend)
    runner = web.AppRunner(make_otlp_http_app(pipeline, max_body=MAX_BODY), auto_decompress=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server = make_grpc_server(pipeline, max_recv_mib=1, max_concurrent_streams=10)
    gport = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    r = Receivers(
        aggregator, telemetry, pipeline, store, f"http://127.0.0.1:{port}", f"127.0.0.1:{gport}",
        events,
    )  # fmt: skip

    async def close() -> None:
        await server.stop(None)
        await runner.cleanup()
        store.close()

    return r, close


@pytest.fixture
async def rx(tmp_path: Path) -> AsyncIterator[Receivers]:
    r, close = await _start(tmp_path)
    yield r
    await close()


@pytest.fixture
async def full(tmp_path: Path) -> AsyncIterator[Receivers]:
    """Receivers whose write queue is full (the writer never started)."""
    r, close = await _start(tmp_path, open_store=False)
    r.store.submit(IngestResult("metrics"))
    yield r
    await close()


async def post(url: str, body: bytes, ctype: str, **headers: str) -> tuple[int, bytes, Any]:
    # aiohttp warns about large bytes bodies; a stream is sent chunked instead.
    data: Any = io.BytesIO(body) if len(body) > 1 << 20 else body
    async with (
        ClientSession() as s,
        s.post(url, data=data, headers={"Content-Type": ctype, **headers}) as resp,
    ):
        return resp.status, await resp.read(), resp.headers


async def test_http_protobuf_is_durable_and_applied_before_the_answer(rx: Receivers) -> None:
    status, body, headers = await post(rx.http + "/v1/metrics", missing(3), PB)
    assert status == 200
    assert headers["Content-Type"] == PB
    resp = metrics_service_pb2.ExportMetricsServiceResponse.FromString(body)
    assert not resp.HasField("partial_success")
    assert rx.aggregator.totals()[KEY].missing == 3
    snap = rx.telemetry.snapshot()
    assert (snap.received, snap.accepted) == ({"metrics": 1}, {"metrics": 1})


async def test_http_gzip(rx: Receivers) -> None:
    status, _, _ = await post(
        rx.http + "/v1/metrics", gzip.compress(missing(2)), PB,
        **{"Content-Encoding": "gzip"},
    )  # fmt: skip
    assert status == 200
    assert rx.aggregator.totals()[KEY].missing == 2


OTLP_JSON = {
    "resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "a"}}]},
        "scopeMetrics": [{"metrics": [{
            "name": "ml.feature.missing",
            "sum": {
                "aggregationTemporality": 1,
                "isMonotonic": True,
                "dataPoints": [{
                    "asInt": "4",
                    "timeUnixNano": "0",
                    "attributes": [
                        {"key": k, "value": {"stringValue": v}}
                        for k, v in model_attrs(feature="amount").items()
                    ],
                    "exemplars": [{
                        "asDouble": 1.0,
                        "traceId": "5b8efff798038103d269b633813fc60c",
                        "spanId": "eee19b7ec3c1b174",
                    }],
                }],
            },
        }]}],
    }]
}  # fmt: skip


async def test_http_otlp_json_with_hex_ids_and_string_int64(rx: Receivers) -> None:
    status, body, headers = await post(
        rx.http + "/v1/metrics", json.dumps(OTLP_JSON).encode(), "application/json"
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {}
    assert rx.aggregator.totals()[KEY].missing == 4


async def test_http_partial_success_in_json(rx: Receivers) -> None:
    doc = json.loads(json.dumps(OTLP_JSON))
    points = doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"]
    points.append({**points[0], "asInt": "-1"})
    status, body, _ = await post(
        rx.http + "/v1/metrics", json.dumps(doc).encode(), "application/json"
    )
    assert status == 200
    partial = json.loads(body)["partialSuccess"]
    assert partial["rejectedDataPoints"] == "1"
    assert ">= 0" in partial["errorMessage"]
    assert rx.aggregator.totals()[KEY].missing == 4


BAD_HTTP = {
    "content type": (b"x", "text/plain", {}, 415),
    "protobuf": (b"\xff\xff\xff", PB, {}, 400),
    "json": (b"{not json", "application/json", {}, 400),
    "json array": (b"[]", "application/json", {}, 400),
    "json types": (b'{"resourceMetrics": 3}', "application/json", {}, 400),
    "gzip": (b"not gzip", PB, {"Content-Encoding": "gzip"}, 400),
    "truncated gzip": (
        gzip.compress(b"\x00" * 100)[:-8], PB,
        {"Content-Encoding": "gzip"}, 400,
    ),
    "encoding": (b"x", PB, {"Content-Encoding": "br"}, 400),
    "too large": (b"\x00" * (MAX_BODY + 1), PB, {}, 413),
    "zip bomb": (
        gzip.compress(b"\x00" * (MAX_BODY * 4)), PB,
        {"Content-Encoding": "gzip"}, 413,
    ),
    "all points bad": (missing(-5), PB, {}, 400),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_HTTP, ids=list(BAD_HTTP))
async def test_http_bad_requests_change_nothing(rx: Receivers, case: str) -> None:
    body, ctype, headers, expected = BAD_HTTP[case]
    before = rx.aggregator.generation
    status, answer, resp_headers = await post(rx.http + "/v1/metrics", body, ctype, **headers)
    assert status == expected
    if expected != 413 or case == "zip bomb":
        encoding = "json" if "json" in resp_headers["Content-Type"] else "protobuf"
        st = status_pb2.Status()
        if encoding == "protobuf":
            st.ParseFromString(answer)
        else:
            st.message = json.loads(answer)["message"]
        assert st.message
    assert rx.aggregator.generation == before
    assert rx.aggregator.totals() == {}
    # And the process lives: a good request right after is fine.
    status, _, _ = await post(rx.http + "/v1/metrics", missing(1), PB)
    assert status == 200


async def test_http_backpressure_is_503_with_retry_after(full: Receivers) -> None:
    status, _, headers = await post(full.http + "/v1/metrics", missing(1), PB)
    assert status == 503
    assert headers["Retry-After"] == "1"
    assert full.telemetry.snapshot().rejected == {("metrics", "backpressure"): 1}


async def test_foreign_telemetry_is_accepted_and_counted(rx: Receivers) -> None:
    req = metrics_request(sum_metric("http.requests", [({"route": "/"}, 3), ({"route": "/x"}, 1)]))
    status, _, _ = await post(rx.http + "/v1/metrics", req.SerializeToString(), PB)
    assert status == 200
    assert rx.aggregator.totals() == {}
    assert rx.telemetry.snapshot().accepted == {"metrics": 2}


async def test_http_logs_events_reach_the_hook(rx: Receivers) -> None:
    good = {semconv.MODEL_NAME: "m", semconv.PREDICTION_ID: "p1", semconv.PREDICTION_VALUE: 0.5}
    bad = {semconv.MODEL_NAME: "m", semconv.PREDICTION_ID: "p2"}  # no value, label or scores
    req = logs_request(
        [log_record(semconv.PREDICTION_EVENT, good), log_record(semconv.PREDICTION_EVENT, bad)]
    )
    status, body, _ = await post(rx.http + "/v1/logs", req.SerializeToString(), PB)
    assert status == 200
    resp = logs_service_pb2.ExportLogsServiceResponse.FromString(body)
    assert resp.partial_success.rejected_log_records == 1
    assert "no value, label or scores" in resp.partial_success.error_message
    assert [e.attributes[semconv.PREDICTION_ID] for e in rx.events] == ["p1"]
    snap = rx.telemetry.snapshot()
    assert snap.events == {semconv.PREDICTION_EVENT: 1}
    assert snap.rejected == {("logs", "invalid_record"): 1}


def _export(channel: grpc.aio.Channel) -> Any:
    return channel.unary_unary(METRICS_EXPORT, request_serializer=None, response_deserializer=None)


async def test_grpc_gzip_and_partial_success(rx: Receivers) -> None:
    req = metrics_request(
        sum_metric(
            semconv.FEATURE_MISSING.name,
            [(model_attrs(feature="amount"), 2), (model_attrs(feature="x" * 100), 1)],
        )
    )
    async with grpc.aio.insecure_channel(rx.grpc, compression=grpc.Compression.Gzip) as ch:
        raw = await _export(ch)(req.SerializeToString())
    resp = metrics_service_pb2.ExportMetricsServiceResponse.FromString(raw)
    assert resp.partial_success.rejected_data_points == 1
    assert "longer than 64" in resp.partial_success.error_message
    assert rx.aggregator.totals()[KEY].missing == 2


async def test_grpc_malformed_is_invalid_argument(rx: Receivers) -> None:
    async with grpc.aio.insecure_channel(rx.grpc) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _export(ch)(b"\xff\xff\xff")
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _export(ch)(b"\x00" * (2 * 1024 * 1024))  # over the 1 MiB limit here
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        raw = await _export(ch)(missing(1))  # still alive
    assert metrics_service_pb2.ExportMetricsServiceResponse.FromString(raw) is not None
    assert rx.aggregator.totals()[KEY].missing == 1


async def test_grpc_backpressure_has_retry_info(full: Receivers) -> None:
    async with grpc.aio.insecure_channel(full.grpc) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _export(ch)(missing(1))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = dict(err.value.trailing_metadata() or ())["grpc-status-details-bin"]
    st = status_pb2.Status.FromString(details)
    info = error_details_pb2.RetryInfo()
    assert st.details[0].Unpack(info)
    assert info.retry_delay.seconds == 1


@pytest.mark.slow
async def test_ten_concurrent_collector_sized_batches(rx: Receivers) -> None:
    # The Collector's otlphttp exporter default: gzip, up to 10 concurrent requests of up to
    # 8192 items each.
    points = [(model_attrs(f"m{i % 16}", feature=f"f{i // 16}"), 1) for i in range(8192)]
    body = gzip.compress(
        metrics_request(sum_metric(semconv.FEATURE_MISSING.name, points)).SerializeToString()
    )
    limits = rx.aggregator.limits
    rx.aggregator.limits = type(limits)(max_models=16, max_features_per_model=512)
    retries = 0

    async def send_like_the_collector() -> int:
        # The queue holds one request here, so some get 503 + Retry-After and are retried,
        # as the Collector's exporter does; each must still count exactly once.
        nonlocal retries
        while True:
            status, _, headers = await post(
                rx.http + "/v1/metrics", body, PB, **{"Content-Encoding": "gzip"}
            )
            if status != 503:
                return status
            assert "Retry-After" in headers
            retries += 1
            await asyncio.sleep(0.05)

    statuses = await asyncio.gather(*(send_like_the_collector() for _ in range(10)))
    assert statuses == [200] * 10
    totals = rx.aggregator.totals()
    assert len(totals) == 8192
    assert {w.missing for w in totals.values()} == {10}
    snap = rx.telemetry.snapshot()
    assert snap.accepted == {"metrics": 81920}
    assert snap.rejected.get(("metrics", "backpressure"), 0) == retries * 8192
