"""Baseline routes: list, read, upload, delete, and build one from telemetry (freeze, pin)."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterator

from aiohttp import web

from otelml import semconv
from otelml.processor.api.http import (
    ApiError,
    context,
    environment_param,
    json_response,
    time_param,
)
from otelml.processor.evaluate import freeze
from otelml.processor.evaluate.baselines import BaselineInfo, BaselineLimitError, parse_baseline
from otelml.processor.inflight import Overloaded
from otelml.stats.baseline import Baseline, BaselineFormatError


async def list_baselines(request: web.Request) -> web.Response:
    """Every stored baseline (without content)."""
    model = request.query.get("model")
    infos = context(request).registry.list(model)
    return json_response({"baselines": [i.to_dict() for i in infos]})


async def get_baseline(request: web.Request) -> web.Response:
    """The baseline that applies to a model version (its own or a fallback), as stored JSON."""
    model, version = request.match_info["model"], request.match_info["version"]
    fallback = request.query.get("fallback", "true") != "false"
    entry = context(request).registry.get(model, version, fallback=fallback)
    if entry is None:
        raise ApiError(404, f"no baseline for model {model!r} version {version!r}")
    return json_response(
        {
            "baseline_version": entry.baseline_version,
            "fallback": entry.fallback,
            "source": entry.info.source,
            "baseline": entry.baseline.to_dict(),
        }
    )


async def put_baseline(request: web.Request) -> web.Response:
    """Store an uploaded baseline JSON document under the path's model and version."""
    model, version = request.match_info["model"], request.match_info["version"]
    body = await request.read()
    if not body:
        raise ApiError(400, "body: expected an otelml baseline JSON document", "body")
    with _held(request, len(body)):
        try:
            # Off the event loop: parsing a 64 MB document takes seconds that OTLP clients,
            # probes and scrapes must not wait for.
            baseline = await asyncio.to_thread(parse_baseline, body)
        except BaselineFormatError as exc:
            raise ApiError(400, f"body: {exc}", "body") from None
    if baseline.model != model:
        raise ApiError(
            400, f"model: the baseline is for model {baseline.model!r}, not {model!r}", "model"
        )
    info = await _put(request, baseline, source="api", version=version)
    return json_response(info.to_dict(), 201)


@contextlib.contextmanager
def _held(request: web.Request, n: int) -> Iterator[None]:
    """Hold ``n`` bytes of the processor's in-flight budget (shared with the receivers)."""
    pipeline = context(request).extras.get("pipeline")
    if pipeline is None:
        yield
        return
    with pipeline.budget.hold() as hold:
        try:
            hold.take(n)
        except Overloaded as exc:
            raise ApiError(503, f"body: {exc}; retry later", "body") from None
        yield


async def _put(
    request: web.Request, baseline: Baseline, *, source: str, version: str | None = None
) -> BaselineInfo:
    registry = context(request).registry
    try:
        return await asyncio.to_thread(registry.put, baseline, source=source, version=version)
    except BaselineLimitError as exc:
        raise ApiError(409, str(exc)) from None


async def delete_baseline(request: web.Request) -> web.Response:
    """Delete the baseline stored under the model version (never a fallback's)."""
    model, version = request.match_info["model"], request.match_info["version"]
    if not context(request).registry.delete(model, version):
        raise ApiError(404, f"no baseline stored for model {model!r} version {version!r}")
    return web.Response(status=204)


async def freeze_baseline(request: web.Request) -> web.Response:
    """Build and store a baseline from training/validation telemetry of the model version."""
    env = environment_param(request, "validation", ("training", "validation"))
    return await _build(request, env or "validation", required_range=False, source="frozen")


async def pin_baseline(request: web.Request) -> web.Response:
    """Build and store a baseline from a time range of (production) telemetry."""
    env = environment_param(request, "production", semconv.ENVIRONMENTS)
    return await _build(request, env or "production", required_range=True, source="pinned")


async def _build(
    request: web.Request, env: str, *, required_range: bool, source: str
) -> web.Response:
    ctx = context(request)
    model, version = request.match_info["model"], request.match_info["version"]
    start = time_param(request, "start", required=required_range)
    end = time_param(request, "end", required=required_range)
    if start is not None and end is not None and end <= start:
        raise ApiError(400, "end: must be after start", "end")
    from_version = request.query.get("from_version", version)
    windows = ctx.aggregator.window(
        None,
        -math.inf if start is None else start,
        math.inf if end is None else end,
        model=model,
        version=from_version,
        environment=env,
        segment="",
    )
    if not windows:
        raise ApiError(
            404,
            f"no telemetry of model {model!r} version {from_version!r} in environment "
            f"{env!r} in the requested range",
        )
    previous = ctx.registry.get(model, version)
    baseline = await asyncio.to_thread(
        freeze.baseline_from_windows,
        model,
        version,
        windows,
        previous=None if previous is None else previous.baseline,
        now=ctx.clock(),
    )
    info = await _put(request, baseline, source=source)
    return json_response({**info.to_dict(), "environment": env, "from_version": from_version}, 201)
