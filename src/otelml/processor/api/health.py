"""Liveness, readiness, the Prometheus scrape and the OpenAPI document."""

from __future__ import annotations

import asyncio
from importlib import resources

from aiohttp import web

from otelml.processor.api.http import context, json_response
from otelml.processor.export import prometheus as exporter_prometheus


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition, computed now."""
    text = await asyncio.to_thread(exporter_prometheus.exposition, context(request))
    return web.Response(
        body=text.encode("utf-8"), headers={"Content-Type": exporter_prometheus.CONTENT_TYPE}
    )


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: listeners bound and state rebuilt."""
    if context(request).ready:
        return json_response({"status": "ready"})
    return json_response({"status": "not_ready"}, 503)


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document of this API."""
    text = resources.files("otelml.processor.api").joinpath("openapi.yaml").read_text("utf-8")
    return web.Response(text=text, content_type="application/yaml")
