"""Strangers at the API: bearer tokens by scope, cross-origin writes, foreign Host headers."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from otelml.cli.baseline_push import run_push
from otelml.processor.api.app import ROUTES, make_http_app
from otelml.processor.api.guard import OPEN_PATHS, WRITE_METHODS
from otelml.processor.config import AuthConfig
from otelml.processor.state.context import ProcessorContext
from otelml.report.client import ApiClient

from .evaldata import (
    T0,
    close_registries,  # noqa: F401 - autouse fixture
    current_updates,
    make_aggregator,
    make_baseline,
    make_context,
)

MV = "/api/v1/models/fraud/versions/1.0.0"
JSON = {"Content-Type": "application/json"}
READ, WRITE, OLD_WRITE = "read-only-token", "write-token-2", "write-token-1"
PIN = MV + f"/baseline:pin?start={T0 - 600}&end={T0}"

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture(scope="module")
def baseline():  # type: ignore[no-untyped-def]
    return make_baseline(n=2000)


@pytest.fixture
def make_client(baseline: Any, tmp_path: Path) -> Callable[..., Any]:
    """Return an async factory of test clients over a context with ``auth`` options."""

    def ctx_with(auth: AuthConfig, **prometheus: Any) -> ProcessorContext:
        ups = current_updates(baseline, minutes=10)
        ctx = make_context(make_aggregator(ups), tmp_path / "db")
        export = ctx.config.export
        export = dataclasses.replace(
            export, prometheus=dataclasses.replace(export.prometheus, **prometheus)
        )
        ctx.config = dataclasses.replace(ctx.config, auth=auth, export=export)
        ctx.ready = True
        return ctx

    return ctx_with


@pytest.fixture
async def open_client(make_client: Callable[..., ProcessorContext]) -> AsyncIterator[Client]:
    async with TestClient(
        TestServer(make_http_app(make_client(AuthConfig()), background=False))
    ) as c:
        yield c


@pytest.fixture
async def client(
    make_client: Callable[..., ProcessorContext], tmp_path: Path
) -> AsyncIterator[Client]:
    """A client of an API with a read token and two write tokens (one file, mid-rotation)."""
    tokens = tmp_path / "write-tokens"
    tokens.write_text(f"{OLD_WRITE}\n{WRITE}\n")
    auth = AuthConfig(read_tokens=READ, write_tokens_file=str(tokens))
    async with TestClient(TestServer(make_http_app(make_client(auth), background=False))) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def status(client: Client, method: str, path: str, **kw: Any) -> int:
    resp = await client.request(method, path, **kw)
    await resp.read()
    return resp.status


WRITES = [
    ("PUT", MV + "/baseline"),
    ("DELETE", MV + "/baseline"),
    ("POST", MV + "/baseline:freeze?environment=production"),
    ("POST", PIN),
    ("POST", "/api/v1/evaluate"),
]
READS = [
    "/metrics",
    "/api/v1/openapi.yaml",
    "/api/v1/models",
    "/api/v1/baselines",
    MV + "/status",
    MV + "/features",
    MV + "/baseline",
]


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_writes_without_a_token_are_refused(client: Client, method: str, path: str) -> None:
    resp = await client.request(method, path, headers=JSON, data=b"{}")
    body = await resp.json()
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert body["error"]["status"] == 401
    wrong = await client.request(method, path, headers={**JSON, **bearer("guess")}, data=b"{}")
    assert wrong.status == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_read_token_cannot_write(client: Client, method: str, path: str) -> None:
    resp = await client.request(method, path, headers={**JSON, **bearer(READ)}, data=b"{}")
    assert resp.status == 403
    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]


@pytest.mark.parametrize("path", READS)
async def test_reads_need_a_read_or_write_token(client: Client, path: str) -> None:
    assert await status(client, "GET", path) == 401
    ok = await status(client, "GET", path, headers=bearer(READ))
    assert ok in (200, 404)  # 404: no baseline yet
    assert await status(client, "GET", path, headers=bearer(WRITE)) == ok


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_probes_stay_open(client: Client, path: str) -> None:
    assert await status(client, "GET", path) == 200


async def test_both_write_tokens_work_while_rotating(client: Client, baseline: Any) -> None:
    for token in (OLD_WRITE, WRITE):
        put = await client.put(
            MV + "/baseline", data=baseline.to_json(), headers={**JSON, **bearer(token)}
        )
        assert put.status == 201, await put.text()
    assert await status(client, "POST", PIN, headers=bearer(WRITE)) == 201
    assert await status(client, "POST", "/api/v1/evaluate", headers=bearer(OLD_WRITE)) == 200


async def test_cross_origin_text_plain_pin_is_refused_without_tokens(open_client: Client) -> None:
    # what a web page's <form enctype="text/plain"> or fetch(no-cors) makes a browser send
    forged = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    assert await status(open_client, "POST", PIN, headers=forged, data=b"x") == 403
    # the same without Origin (a client that is not a browser) still needs JSON bodies
    text_plain = {"Content-Type": "text/plain"}
    assert await status(open_client, "POST", PIN, headers=text_plain, data=b"x") == 415
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert await status(open_client, "POST", PIN, headers=form, data=b"a=b") == 415
    assert await status(open_client, "GET", MV + "/baseline") == 404  # nothing was pinned
    fetch_metadata = {"Sec-Fetch-Site": "cross-site"}
    assert await status(open_client, "POST", "/api/v1/evaluate", headers=fetch_metadata) == 403
    # the operator's own tools: no Origin, or the API's own origin
    assert await status(open_client, "POST", PIN) == 201
    same = {"Origin": f"http://{open_client.host}:{open_client.port}"}
    assert await status(open_client, "POST", "/api/v1/evaluate", headers=same) == 200


async def test_put_baseline_needs_a_json_content_type(open_client: Client, baseline: Any) -> None:
    text = baseline.to_json()
    assert await status(open_client, "PUT", MV + "/baseline", data=text) == 415  # text/plain
    ld = {"Content-Type": "application/vnd.otelml+json; charset=utf-8"}
    assert await status(open_client, "PUT", MV + "/baseline", data=text, headers=ld) == 201


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/api/v1/models"])
async def test_foreign_host_is_refused_on_loopback(open_client: Client, path: str) -> None:
    # DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1
    resp = await open_client.get(path, headers={"Host": "evil.example:9464"})
    assert resp.status == 421
    assert (await resp.json())["error"]["status"] == 421
    for host in ("localhost:9464", "127.0.0.1", "[::1]:9464"):
        assert await status(open_client, "GET", path, headers={"Host": host}) == 200


@pytest.mark.parametrize(
    ("endpoint", "allowed", "answered"),
    [
        # bound beyond loopback (a container whose port is published on the host's loopback)
        (
            "0.0.0.0:9464",
            "localhost, otelml.internal",
            {"127.0.0.1", "localhost", "otelml.internal"},
        ),
        ("0.0.0.0:9464", None, {"127.0.0.1", "localhost", "otelml.internal", "evil.example"}),
        ("127.0.0.1:9464", "otelml.internal", {"127.0.0.1", "localhost", "otelml.internal"}),
    ],
)
async def test_allowed_hosts(
    make_client: Callable[..., ProcessorContext],
    endpoint: str,
    allowed: str | None,
    answered: set[str],
) -> None:
    ctx = make_client(AuthConfig(), endpoint=endpoint, allowed_hosts=allowed)
    async with TestClient(TestServer(make_http_app(ctx, background=False))) as c:
        got = set()
        for host in ("127.0.0.1", "localhost", "otelml.internal", "evil.example"):
            if await status(c, "GET", "/api/v1/models", headers={"Host": f"{host}:9464"}) == 200:
                got.add(host)
    assert got == answered


async def test_foreign_host_is_refused_on_writes_too(open_client: Client) -> None:
    rebinding = {"Host": "evil.example:9464", "Origin": "http://evil.example:9464"}
    assert await status(open_client, "POST", PIN, headers=rebinding) == 421


def test_every_refusal_is_documented_in_openapi() -> None:
    doc = yaml.safe_load(
        resources.files("otelml.processor.api").joinpath("openapi.yaml").read_text("utf-8")
    )
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for method, path, _ in ROUTES:
        op = doc["paths"][path][method.lower()]
        expected = {"421"}
        if path not in OPEN_PATHS:
            expected |= {"401", "403"}
        else:
            assert op["security"] == []
        if method in WRITE_METHODS:
            expected.add("415")
        assert expected <= set(op["responses"]), (method, path)


async def test_otelml_clients_send_the_token_from_the_environment(
    client: Client, baseline: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://{client.host}:{client.port}"
    doc = tmp_path / "baseline.json"
    doc.write_text(baseline.to_json())
    args = argparse.Namespace(file=str(doc), url=url, push_version=None, timeout=10.0)
    monkeypatch.delenv("OTELML_API_TOKEN", raising=False)
    assert await asyncio.to_thread(run_push, args) == 1  # no token: 401
    monkeypatch.setenv("OTELML_API_TOKEN", WRITE)
    assert await asyncio.to_thread(run_push, args) == 0
    answer = await asyncio.to_thread(ApiClient(url).models)
    assert answer.status == 200
    refused = await asyncio.to_thread(ApiClient(url, token=READ).evaluate)
    assert refused.status == 403
