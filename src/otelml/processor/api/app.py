"""The processor's HTTP surface on the metrics port: ``/metrics``, health, and the JSON API.

:func:`make_http_app` builds the aiohttp application that the service mounts. It creates the
:class:`~otelml.processor.evaluate.baselines.BaselineRegistry` and the
:class:`~otelml.processor.evaluate.evaluator.Evaluator` on the context when the service has not,
and runs the periodic work (evaluation, the watched baseline directory, the OTLP push) as background
tasks for the application's lifetime. The handlers live beside this module (``health``,
``models``, ``baselines``, sharing ``http``); ``openapi.yaml`` describes every route in
:data:`ROUTES`, and a test holds the two equal.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from otelml.processor.api import baselines, health, models
from otelml.processor.api.guard import make_guard
from otelml.processor.api.http import API, CTX, MAX_BODY, MV, errors
from otelml.processor.evaluate.baselines import MAX_BASELINE_BYTES, BaselineRegistry
from otelml.processor.evaluate.evaluator import Evaluator
from otelml.processor.security import HostPolicy, Tokens
from otelml.processor.state.context import ProcessorContext

ROUTES: tuple[tuple[str, str, Callable[[web.Request], Any]], ...] = (
    ("GET", "/metrics", health.metrics),
    ("GET", "/healthz", health.healthz),
    ("GET", "/readyz", health.readyz),
    ("GET", API + "/openapi.yaml", health.openapi),
    ("GET", API + "/models", models.list_models),
    ("GET", MV + "/features", models.list_features),
    ("GET", MV + "/status", models.model_status),
    ("GET", MV + "/features/{feature}/history", models.feature_history),
    ("GET", MV + "/performance", models.model_performance),
    ("POST", API + "/evaluate", models.evaluate_now),
    ("GET", API + "/baselines", baselines.list_baselines),
    ("GET", MV + "/baseline", baselines.get_baseline),
    ("PUT", MV + "/baseline", baselines.put_baseline),
    ("DELETE", MV + "/baseline", baselines.delete_baseline),
    ("POST", MV + "/baseline:freeze", baselines.freeze_baseline),
    ("POST", MV + "/baseline:pin", baselines.pin_baseline),
)
"""Every route: method, path, handler."""


def ensure_components(ctx: ProcessorContext) -> None:
    """Create the context's registry and evaluator if the service has not."""
    if ctx.registry is None:
        ctx.registry = BaselineRegistry(ctx.db_path, clock=ctx.clock)
        ctx.extras["owns_registry"] = True
    if ctx.evaluator is None:
        ev_cfg = ctx.config.evaluation
        ctx.evaluator = Evaluator(
            ctx.aggregator,
            ctx.registry,
            config=ctx.config,
            telemetry=ctx.telemetry,
            clock=ctx.clock,
            reference=ev_cfg.reference,
            history_size=ev_cfg.history_size,
        )
    joins = ctx.extras.get("joins")
    if joins is not None and ctx.extras.get("performance") is None:
        from otelml.processor.evaluate.performance import PerformanceEvaluator

        ctx.extras["performance"] = PerformanceEvaluator(
            joins, ctx.registry, ctx.config, clock=ctx.clock
        )


async def _background(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CTX]
    tasks = [asyncio.create_task(ctx.evaluator.run(), name="otelml-evaluator")]
    directory = _baseline_directory(ctx)
    if directory is not None:
        interval = float(
            ctx.extras.get("baseline_poll_interval_s", ctx.config.baselines.poll_interval_s)
        )
        tasks.append(asyncio.create_task(ctx.registry.watch_directory(directory, interval)))
    if ctx.config.export.otlp.endpoint:
        from otelml.processor.export.otlp_push import OtlpPusher

        pusher = OtlpPusher.from_context(ctx)
        tasks.append(asyncio.create_task(pusher.run(), name="otelml-otlp-push"))
        ctx.extras["otlp_pusher"] = pusher
    yield
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t
    pusher = ctx.extras.pop("otlp_pusher", None)
    if pusher is not None:
        await asyncio.to_thread(pusher.shutdown)


def _baseline_directory(ctx: ProcessorContext) -> str | None:
    return ctx.config.baselines.directory or ctx.extras.get("baseline_directory")


async def _close_registry(app: web.Application) -> None:
    ctx = app[CTX]
    if ctx.extras.pop("owns_registry", False):
        ctx.registry.close()


def make_http_app(
    ctx: ProcessorContext, *, background: bool = True, max_body_bytes: int = MAX_BASELINE_BYTES
) -> web.Application:
    """Return the aiohttp application of the metrics port for ``ctx``.

    ``background=False`` leaves out the periodic tasks (tests drive evaluation themselves);
    ``max_body_bytes`` bounds request bodies (413 beyond it). Requests pass
    :mod:`otelml.processor.api.guard` first: the context's ``tokens`` extra (shared with the
    receivers by the service) or those of ``ctx.config.auth``.
    """
    ensure_components(ctx)
    tokens = ctx.extras.get("tokens") or Tokens.from_config(ctx.config.auth, clock=time.monotonic)
    p = ctx.config.export.prometheus
    guard = make_guard(tokens, HostPolicy.for_listener(p.endpoint, p.allowed_hosts))
    app = web.Application(middlewares=[guard, errors], client_max_size=max_body_bytes)
    app[CTX] = ctx
    app[MAX_BODY] = max_body_bytes
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    if background:
        app.cleanup_ctx.append(_background)
    app.on_cleanup.append(_close_registry)
    return app
