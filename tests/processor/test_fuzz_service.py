"""10,000 mutated OTLP payloads against a real ``otelml serve``: no crash, no 5xx, no stray state.

A seeded mutation fuzzer (byte flips, truncations, insertions, splices, JSON value swaps, gzip
wrapping and corruption) sends over OTLP/HTTP (protobuf and JSON) and OTLP/gRPC, one request at
a time. The oracle for "refused payloads change nothing": the served state after the run must
equal the state an in-process pipeline builds from the accepted payloads alone, in the same
order; and every answer must agree with the in-process one (refused there iff refused here).
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from otelml.processor.receive.pipeline import Status

from .conftest import ServiceProcess, load_state
from .test_fuzz import SEEDS, Harness

pytestmark = pytest.mark.e2e

HTTP_CASES = 8000
GRPC_CASES = 2000
SERVICES = {
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
PATHS = {"metrics": "/v1/metrics", "traces": "/v1/traces", "logs": "/v1/logs"}
ODD_VALUES: list[Any] = [None, "", -1, 0, 2**64, -(2**63), 1e308, "NaN", [], {}, "x" * 300, True]


def _json_seeds() -> dict[str, bytes]:
    from google.protobuf import json_format

    from otelml.processor.receive.otlp import REQUEST_TYPES

    out = {}
    for signal, raw in SEEDS.items():
        msg = REQUEST_TYPES[signal]()  # type: ignore[index]
        msg.ParseFromString(raw)
        out[signal] = json_format.MessageToJson(msg).encode()
    return out


def _mutate_bytes(rng: random.Random, data: bytes, other: bytes) -> bytes:
    b = bytearray(data)
    op = rng.randrange(5)
    if op == 0 and b:
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif op == 1:
        b = b[: rng.randrange(len(b) + 1)]
    elif op == 2:
        at = rng.randrange(len(b) + 1)
        b[at:at] = rng.randbytes(rng.randint(1, 16))
    elif op == 3 and b:
        i = rng.randrange(len(b))
        j = rng.randrange(i, len(b) + 1)
        b[j:j] = b[i:j]
    else:
        b = b[: rng.randrange(len(b) + 1)] + other[rng.randrange(len(other) + 1) :]
    return bytes(b)


def _walk(node: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield node, k
            yield from _walk(v)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield node, i
            yield from _walk(v)


def _mutate_json(rng: random.Random, data: bytes) -> bytes:
    doc = json.loads(data)
    places = list(_walk(doc))
    for _ in range(rng.randint(1, 3)):
        parent, key = rng.choice(places)
        if isinstance(parent, dict) and rng.random() < 0.3:
            parent.pop(key, None)
        else:
            parent[key] = rng.choice(ODD_VALUES)
        places = list(_walk(doc))
        if not places:
            break
    return json.dumps(doc).encode()


def _case(rng: random.Random, json_seeds: dict[str, bytes]) -> tuple[str, bytes, str, bool]:
    signal = rng.choice(sorted(SEEDS))
    if rng.random() < 0.35:
        body, encoding = _mutate_json(rng, json_seeds[signal]), "json"
        if rng.random() < 0.3:
            body = _mutate_bytes(rng, body, json_seeds[rng.choice(sorted(SEEDS))])
    else:
        other = SEEDS[rng.choice(sorted(SEEDS))]
        body, encoding = _mutate_bytes(rng, SEEDS[signal], other), "protobuf"
    gz = rng.random() < 0.2
    if gz:
        body = gzip.compress(body)
        if rng.random() < 0.3:
            body = _mutate_bytes(rng, body, b"")
    return signal, body, encoding, gz


def _post(
    conn: http.client.HTTPConnection, signal: str, body: bytes, encoding: str, gz: bool
) -> int:
    headers = {
        "Content-Type": "application/json" if encoding == "json" else "application/x-protobuf"
    }
    if gz:
        headers["Content-Encoding"] = "gzip"
    conn.request("POST", PATHS[signal], body, headers)
    resp = conn.getresponse()
    resp.read()
    return resp.status


async def _grpc_cases(endpoint: str, cases: list[tuple[str, bytes]]) -> list[grpc.StatusCode]:
    codes = []
    async with grpc.aio.insecure_channel(endpoint) as ch:
        for signal, body in cases:
            call = ch.unary_unary(
                SERVICES[signal], request_serializer=None, response_deserializer=None
            )
            try:
                await call(body, timeout=10)
                codes.append(grpc.StatusCode.OK)
            except grpc.aio.AioRpcError as exc:
                codes.append(exc.code())
    return codes


def _totals(agg: Any) -> dict[Any, Any]:
    return {k: w.to_dict() for k, w in agg.totals().items()}


def test_ten_thousand_mutated_payloads(
    processor_service: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    rng = random.Random(20261203)
    json_seeds = _json_seeds()
    svc = processor_service()
    host, _, port = svc.http_url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    accepted: list[tuple[str, bytes, str, bool]] = []
    statuses: dict[int, int] = {}
    for _ in range(HTTP_CASES):
        case = _case(rng, json_seeds)
        status = _post(conn, *case)
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, f"{status} for {case!r}"
        if status == 200:
            accepted.append(case)
    conn.close()
    grpc_cases = [
        (s, _mutate_bytes(rng, SEEDS[s], SEEDS["metrics"]))
        for s in (rng.choice(sorted(SEEDS)) for _ in range(GRPC_CASES))
    ]
    codes = asyncio.run(_grpc_cases(svc.grpc_endpoint, grpc_cases))
    allowed = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}
    assert set(codes) <= allowed, {c for c in codes if c not in allowed}
    accepted += [
        (s, b, "protobuf", False)
        for (s, b), c in zip(grpc_cases, codes, strict=True)
        if c == grpc.StatusCode.OK
    ]
    print(
        f"HTTP answers {dict(sorted(statuses.items()))}; gRPC OK "
        f"{codes.count(grpc.StatusCode.OK)} of {GRPC_CASES}; accepted {len(accepted)}"
    )
    assert svc.terminate() == 0
    served = _totals(load_state(svc.db_path))
    assert served  # the accepted mutants did change state: the comparison below means something

    harness = Harness(tmp_path / "replay.db")
    try:
        for case in accepted:
            assert harness.send(*case) is Status.OK
        assert _totals(harness.aggregator) == served
    finally:
        harness.close()
