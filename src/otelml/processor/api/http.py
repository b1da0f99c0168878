"""What every route of the JSON API shares: the app keys, JSON errors and query parameters.

Errors are JSON: ``{"error": {"status": 400, "message": "...", "field": "start"}}``. A handler
raises :class:`ApiError`; the :func:`errors` middleware answers it, and turns aiohttp's own HTTP
errors (413 on a too-large body among them) into the same shape.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Callable
from typing import Any

from aiohttp import web

from otelml import semconv
from otelml.processor.state.context import ProcessorContext

API = "/api/v1"
MV = API + "/models/{model}/versions/{version}"
CTX: web.AppKey[ProcessorContext] = web.AppKey("otelml_ctx", ProcessorContext)
MAX_BODY: web.AppKey[int] = web.AppKey("otelml_max_body", int)


class ApiError(Exception):
    """An error answered as JSON with ``status``, ``message`` and the offending ``field``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def json_response(data: Any, status: int = 200) -> web.Response:
    """Return ``data`` as strict JSON (a NaN is a bug, not a value to send)."""
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, allow_nan=False))


def error_response(status: int, message: str, field: str | None = None) -> web.Response:
    """Return the JSON error body for ``status``."""
    body: dict[str, Any] = {"status": status, "message": message}
    if field is not None:
        body["field"] = field
    return json_response({"error": body}, status)


@web.middleware
async def errors(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    """Answer :class:`ApiError` and aiohttp's HTTP errors as JSON errors."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.field)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[MAX_BODY]
        return error_response(413, f"request body larger than {limit} bytes", "body")
    except web.HTTPException as exc:
        if exc.status >= 400:
            return error_response(exc.status, exc.reason)
        raise


def context(request: web.Request) -> ProcessorContext:
    """Return the processor context the application serves."""
    return request.app[CTX]


def time_param(request: web.Request, name: str, *, required: bool = False) -> float | None:
    """Return query parameter ``name`` as unix seconds (given as such or as ISO-8601)."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        if required:
            raise ApiError(400, f"query parameter {name!r} is required", name)
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            parsed = _dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(
                400, f"{name}: expected unix seconds or an ISO-8601 time, got {raw!r}", name
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_dt.timezone.utc)
        value = parsed.timestamp()
    if not math.isfinite(value):
        raise ApiError(400, f"{name}: must be finite, got {raw!r}", name)
    return value


def environment_param(
    request: web.Request, default: str | None, allowed: tuple[str, ...]
) -> str | None:
    """Return the ``environment`` query parameter, one of ``allowed``, or ``default``."""
    env = request.query.get("environment", default)
    if env is not None and env not in allowed:
        raise ApiError(
            400, f"environment: expected one of {', '.join(allowed)}, got {env!r}", "environment"
        )
    return env


def known_environments(ctx: ProcessorContext, model: str, version: str) -> list[str]:
    """Return the environments with data for the model version; 404 when there are none."""
    envs = [e for (m, v, e) in ctx.aggregator.models() if m == model and v == version]
    if not envs:
        raise ApiError(404, f"no data for model {model!r} version {version!r}")
    return envs


def pick_environment(request: web.Request, envs: list[str]) -> str:
    """Return the requested environment among ``envs``, by default production or the first."""
    env = request.query.get("environment")
    if env is None:
        env = semconv.DEFAULT_ENVIRONMENT if semconv.DEFAULT_ENVIRONMENT in envs else envs[0]
    elif env not in envs:
        raise ApiError(404, f"no data for environment {env!r}", "environment")
    return env
