"""The HTTP API: every route against openapi.yaml, responses validated, errors as JSON."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from otelml.processor.api.app import make_http_app
from otelml.processor.inflight import InflightBudget
from otelml.processor.state.context import ProcessorContext

from . import openapi_check, promtext
from .evaldata import (
    T0,
    close_registries,  # noqa: F401 - autouse fixture
    current_updates,
    make_aggregator,
    make_baseline,
    make_context,
)

DOC: dict[str, Any] = yaml.safe_load(
    resources.files("otelml.processor.api").joinpath("openapi.yaml").read_text("utf-8")
)
MV = "/api/v1/models/fraud/versions/1.0.0"


@pytest.fixture(scope="module")
def baseline():  # type: ignore[no-untyped-def]
    return make_baseline(n=5000)


@pytest.fixture
def ctx(baseline, tmp_path: Path) -> ProcessorContext:  # type: ignore[no-untyped-def]
    ups = current_updates(baseline, drifted=("f1",), minutes=10)
    ups += current_updates(baseline, environment="validation", minutes=10, now=T0 - 86400, seed=5)
    c = make_context(make_aggregator(ups), tmp_path / "db")
    c.ready = True
    return c


@pytest.fixture
async def client(ctx: ProcessorContext) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = make_http_app(ctx, background=False)
    async with TestClient(TestServer(app)) as c:
        yield c


def _operation(method: str, path: str) -> dict[str, Any]:
    for template, item in DOC["paths"].items():
        rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(rx, path) and method.lower() in item:
            op: dict[str, Any] = item[method.lower()]
            return op
    raise AssertionError(f"{method} {path} not in openapi.yaml")


async def _call(client: TestClient, method: str, path: str, status: int, **kw: Any) -> Any:  # type: ignore[type-arg]
    if "data" in kw:
        kw.setdefault("headers", {"Content-Type": "application/json"})
    resp = await client.request(method, path, **kw)
    body = await resp.read()
    assert resp.status == status, body
    op = _operation(method, path.split("?")[0])
    spec = op["responses"].get(str(status))
    assert spec is not None, f"{method} {path}: status {status} not documented"
    spec = openapi_check.resolve(DOC, spec)
    if "content" not in spec:
        assert body == b""
        return None
    ctype = resp.headers["Content-Type"].split(";")[0]
    media = next(iter(spec["content"]))
    assert ctype.split("/")[-1] in media, (ctype, media)
    if ctype == "application/json":
        data = json.loads(body)
        openapi_check.validate(data, spec["content"][ctype]["schema"], DOC)
        return data
    return body.decode()


def test_every_route_is_documented_and_vice_versa() -> None:
    import tempfile

    from .evaldata import make_context as mk

    with tempfile.TemporaryDirectory() as d:
        c = mk(make_aggregator([]), Path(d) / "db")
        app = make_http_app(c, background=False)
        routes = {
            (r.method, r.resource.canonical)  # type: ignore[union-attr]
            for r in app.router.routes()
            if r.method != "HEAD"
        }
        c.registry.close()
    documented = {
        (method.upper(), path)
        for path, item in DOC["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }
    assert routes == documented


async def test_health_and_metrics(client: TestClient, ctx: ProcessorContext) -> None:  # type: ignore[type-arg]
    assert (await _call(client, "GET", "/healthz", 200)) == {"status": "ok"}
    assert (await _call(client, "GET", "/readyz", 200)) == {"status": "ready"}
    ctx.ready = False
    assert (await _call(client, "GET", "/readyz", 503)) == {"status": "not_ready"}
    resp = await client.get("/metrics")
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    fams = promtext.parse(await resp.text())
    assert "otelml_feature_values" in fams
    text = await _call(client, "GET", "/api/v1/openapi.yaml", 200)
    assert yaml.safe_load(text)["openapi"].startswith("3.")


async def test_models_status_history(client: TestClient, ctx: ProcessorContext, baseline) -> None:  # type: ignore[no-untyped-def,type-arg]
    data = await _call(client, "GET", "/api/v1/models", 200)
    assert data["models"] == [
        {
            "model": "fraud",
            "versions": [{"version": "1.0.0", "environments": ["production", "validation"]}],
        }
    ]
    # not evaluated yet
    err = await _call(client, "GET", MV + "/status", 404)
    assert "not been evaluated" in err["error"]["message"]
    await _call(client, "PUT", MV + "/baseline", 201, data=baseline.to_json())
    ev = await _call(client, "POST", "/api/v1/evaluate", 200)
    assert {e["environment"] for e in ev["evaluated"]} == {"production"}  # validation is old
    st = await _call(client, "GET", MV + "/status", 200)
    assert st["status"] == "drift"
    assert st["reference"] == "baseline"
    assert st["drift"][0]["rank"] == 1
    drifted = [d["feature"] for d in st["drift"] if d["status"] == "drift"]
    assert drifted == ["f1"]
    feats = await _call(client, "GET", MV + "/features", 200)
    assert {f["feature"]: f["status"] for f in feats["features"]}["f1"] == "drift"
    assert all(f["in_baseline"] for f in feats["features"])
    hist = await _call(client, "GET", MV + "/features/f1/history", 200)
    assert [p["status"] for p in hist["points"]] == ["drift"]
    await _call(client, "GET", MV + "/features/nope/history", 404)
    await _call(client, "GET", "/api/v1/models/nope/versions/1/status", 404)
    err = await _call(client, "GET", MV + "/status?environment=shadow", 404)
    assert err["error"]["field"] == "environment"


async def test_baseline_crud(client: TestClient, baseline) -> None:  # type: ignore[no-untyped-def,type-arg]
    await _call(client, "GET", MV + "/baseline", 404)
    info = await _call(client, "PUT", MV + "/baseline", 201, data=baseline.to_json())
    assert info["source"] == "api"
    assert info["features"] == len(baseline.features)
    got = await _call(client, "GET", MV + "/baseline", 200)
    assert got["fallback"] is False
    assert got["baseline"]["features"].keys() == baseline.features.keys()
    # a later version falls back and says so
    got = await _call(client, "GET", "/api/v1/models/fraud/versions/1.2.0/baseline", 200)
    assert got["fallback"] is True
    assert got["baseline_version"] == "1.0.0"
    await _call(client, "GET", "/api/v1/models/fraud/versions/1.2.0/baseline?fallback=false", 404)
    lst = await _call(client, "GET", "/api/v1/baselines", 200)
    assert [(b["model"], b["version"]) for b in lst["baselines"]] == [("fraud", "1.0.0")]
    assert (await _call(client, "DELETE", MV + "/baseline", 204)) is None
    await _call(client, "DELETE", MV + "/baseline", 404)


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        (b"", "body", "expected an otelml baseline"),
        (b"{nope", "body", "not valid JSON"),
        (b'{"format": "otelml.baseline", "schema_version": 99}', "body", "schema_version"),
    ],
)
async def test_upload_errors(client: TestClient, body: bytes, field: str, fragment: str) -> None:  # type: ignore[type-arg]
    err = await _call(client, "PUT", MV + "/baseline", 400, data=body)
    assert err["error"]["field"] == field
    assert fragment in err["error"]["message"]


async def test_upload_for_another_model_is_refused(client: TestClient, baseline) -> None:  # type: ignore[no-untyped-def,type-arg]
    err = await _call(
        client, "PUT", "/api/v1/models/other/versions/1/baseline", 400, data=baseline.to_json()
    )
    assert err["error"]["field"] == "model"


async def test_upload_too_large(ctx: ProcessorContext) -> None:
    app = make_http_app(ctx, background=False, max_body_bytes=1000)
    async with TestClient(TestServer(app)) as client:
        err = await _call(client, "PUT", MV + "/baseline", 413, data=b"x" * 5000)
    assert err["error"]["status"] == 413
    assert "1000 bytes" in err["error"]["message"]


async def test_freeze_and_pin(client: TestClient, ctx: ProcessorContext) -> None:  # type: ignore[type-arg]
    built = await _call(client, "POST", MV + "/baseline:freeze?environment=validation", 201)
    assert built["source"] == "frozen"
    assert built["environment"] == "validation"
    got = await _call(client, "GET", MV + "/baseline", 200)
    assert set(got["baseline"]["features"]) == {"f0", "f1", "f2", "f3", "c0"}
    assert got["baseline"]["prediction"] is not None
    # evaluation against the frozen validation baseline: f1 drifted, the rest did not
    await _call(client, "POST", "/api/v1/evaluate", 200)
    st = await _call(client, "GET", MV + "/status", 200)
    assert [d["feature"] for d in st["drift"] if d["status"] == "drift"] == ["f1"]
    # pin the last ten minutes of production under a new version
    start, end = T0 - 600, T0
    pinned = await _call(
        client,
        "POST",
        f"/api/v1/models/fraud/versions/2.0.0/baseline:pin?start={start}&end={end}"
        "&from_version=1.0.0",
        201,
    )
    assert pinned["source"] == "pinned"
    assert pinned["version"] == "2.0.0"
    # ISO-8601 works too; a missing or bad range is a 400 naming the field
    iso = "2023-11-14T22:00:00Z"
    await _call(client, "POST", MV + f"/baseline:pin?start={iso}&end=2023-11-14T23:00:00Z", 201)
    err = await _call(client, "POST", MV + "/baseline:pin?end=5", 400)
    assert err["error"]["field"] == "start"
    err = await _call(client, "POST", MV + "/baseline:pin?start=yesterday&end=5", 400)
    assert err["error"]["field"] == "start"
    err = await _call(client, "POST", MV + "/baseline:pin?start=10&end=5", 400)
    assert err["error"]["field"] == "end"
    err = await _call(client, "POST", MV + "/baseline:freeze?environment=production", 400)
    assert err["error"]["field"] == "environment"
    await _call(client, "POST", MV + "/baseline:pin?start=1&end=2", 404)


async def test_background_evaluation_and_watched_directory(
    ctx: ProcessorContext,
    baseline,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    import asyncio

    d = tmp_path / "baselines"
    d.mkdir()
    (d / "fraud.json").write_text(baseline.to_json())
    ctx.extras["baseline_directory"] = str(d)
    ctx.extras["baseline_poll_interval_s"] = 0.05
    app = make_http_app(ctx)
    async with TestClient(TestServer(app)) as client:
        for _ in range(400):
            if ctx.evaluator.latest() and ctx.registry.list():
                break
            await asyncio.sleep(0.025)
        assert [i.source for i in ctx.registry.list()] == ["directory"]
        assert ctx.evaluator.latest()
        await _call(client, "GET", "/healthz", 200)
    # cleanup cancelled the tasks and closed the registry it created
    assert "owns_registry" not in ctx.extras


async def test_a_baseline_beyond_the_caps_is_409_and_a_replacement_is_not(
    client: TestClient,  # type: ignore[type-arg]
    ctx: ProcessorContext,
    baseline,  # type: ignore[no-untyped-def]
) -> None:
    await _call(client, "GET", "/api/v1/baselines", 200)  # the registry exists from here on
    ctx.registry.max_baselines = 1
    await _call(client, "PUT", MV + "/baseline", 201, data=baseline.to_json())
    err = await _call(
        client, "PUT", "/api/v1/models/fraud/versions/9.9.9/baseline", 409, data=baseline.to_json()
    )
    assert "cap" in err["error"]["message"]
    await _call(client, "PUT", MV + "/baseline", 201, data=baseline.to_json())


async def test_an_upload_beyond_the_inflight_budget_is_503(
    ctx: ProcessorContext,
    baseline,  # type: ignore[no-untyped-def]
) -> None:
    class Pipe:
        budget = InflightBudget(100)

    ctx.extras["pipeline"] = Pipe()
    app = make_http_app(ctx, background=False)
    async with TestClient(TestServer(app)) as client:
        err = await _call(client, "PUT", MV + "/baseline", 503, data=baseline.to_json())
    assert "budget" in err["error"]["message"]
