"""The processor's HTTP surface on the metrics port: ``/metrics``, health, and the JSON API.

:func:`make_http_app` builds the aiohttp application that the service mounts. It creates the
:class:`~otelml.processor.evaluate.baselines.BaselineRegistry` and the
:class:`~otelml.processor.evaluate.evaluator.Evaluator` on the context when the service has not,
and runs the periodic work (evaluation, the watched baseline directory, the OTLP push) as background
tasks for the application's lifetime. ``openapi.yaml`` beside this module describes every route;
a test holds the two equal.

Errors are JSON: ``{"error": {"status": 400, "message": "...", "field": "start"}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import json
import logging
import math
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from otelml import semconv
from otelml.processor.evaluate import freeze
from otelml.processor.evaluate.baselines import MAX_BASELINE_BYTES, BaselineRegistry, parse_baseline
from otelml.processor.evaluate.evaluator import Evaluator, ModelEvaluation
from otelml.processor.evaluate.evaluator import finite as _finite
from otelml.processor.export import prometheus as exporter_prometheus
from otelml.processor.state.aggregator import PREDICTION_FEATURE, SeriesKey
from otelml.processor.state.context import ProcessorContext
from otelml.processor.state.joins import OUTCOMES as JOIN_OUTCOMES
from otelml.stats.baseline import BaselineFormatError

log = logging.getLogger(__name__)

API = "/api/v1"
MV = API + "/models/{model}/versions/{version}"
CTX: web.AppKey[ProcessorContext] = web.AppKey("otelml_ctx", ProcessorContext)
MAX_BODY: web.AppKey[int] = web.AppKey("otelml_max_body", int)


class ApiError(Exception):
    """An error answered as JSON with ``status``, ``message`` and the offending ``field``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, allow_nan=False))


def _error(status: int, message: str, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if field is not None:
        body["field"] = field
    return _json({"error": body}, status)


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as exc:
        return _error(exc.status, exc.message, exc.field)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[MAX_BODY]
        return _error(413, f"request body larger than {limit} bytes", "body")
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(exc.status, exc.reason)
        raise


# -- helpers -----------------------------------------------------------------------------------


def _ctx(request: web.Request) -> ProcessorContext:
    return request.app[CTX]


def _time_param(request: web.Request, name: str, *, required: bool = False) -> float | None:
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


def _environment(request: web.Request, default: str | None, allowed: tuple[str, ...]) -> str | None:
    env = request.query.get("environment", default)
    if env is not None and env not in allowed:
        raise ApiError(
            400, f"environment: expected one of {', '.join(allowed)}, got {env!r}", "environment"
        )
    return env


def _known(ctx: ProcessorContext, model: str, version: str) -> list[str]:
    envs = [e for (m, v, e) in ctx.aggregator.models() if m == model and v == version]
    if not envs:
        raise ApiError(404, f"no data for model {model!r} version {version!r}")
    return envs


def _pick_env(request: web.Request, envs: list[str]) -> str:
    env = request.query.get("environment")
    if env is None:
        env = semconv.DEFAULT_ENVIRONMENT if semconv.DEFAULT_ENVIRONMENT in envs else envs[0]
    elif env not in envs:
        raise ApiError(404, f"no data for environment {env!r}", "environment")
    return env


# -- health and metrics ------------------------------------------------------------------------


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition, computed now."""
    text = await asyncio.to_thread(exporter_prometheus.exposition, _ctx(request))
    return web.Response(
        body=text.encode("utf-8"), headers={"Content-Type": exporter_prometheus.CONTENT_TYPE}
    )


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: listeners bound and state rebuilt."""
    if _ctx(request).ready:
        return _json({"status": "ready"})
    return _json({"status": "not_ready"}, 503)


# -- models ------------------------------------------------------------------------------------


async def list_models(request: web.Request) -> web.Response:
    """Every model, its versions and each version's environments."""
    tree: dict[str, dict[str, list[str]]] = {}
    for m, v, e in _ctx(request).aggregator.models():
        tree.setdefault(m, {}).setdefault(v, []).append(e)
    return _json(
        {
            "models": [
                {
                    "model": m,
                    "versions": [
                        {"version": v, "environments": sorted(es)} for v, es in vs.items()
                    ],
                }
                for m, vs in sorted(tree.items())
            ]
        }
    )


async def list_features(request: web.Request) -> web.Response:
    """Features seen for a model version, with kind, baseline presence and latest status."""
    ctx = _ctx(request)
    model, version = request.match_info["model"], request.match_info["version"]
    envs = _known(ctx, model, version)
    env = _pick_env(request, envs)
    entry = ctx.registry.get(model, version)
    ev = ctx.evaluator.latest().get((model, version, env))
    statuses = {f.feature: f for f in ev.features} if ev else {}
    all_keys = ctx.aggregator.keys()
    names = sorted(
        {
            k.feature
            for k in all_keys
            if k.model_key == (model, version, env) and k.feature != PREDICTION_FEATURE
        }
    )
    out = []
    for name in names:
        fb = entry.baseline.features.get(name) if entry else None
        fe = statuses.get(name)
        out.append(
            {
                "feature": name,
                "kind": fb.kind if fb else (fe.kind if fe else None),
                "in_baseline": fb is not None,
                "importance": _finite(fb.importance) if fb else None,
                "status": fe.status if fe else None,
            }
        )
    return _json({"model": model, "version": version, "environment": env, "features": out})


def _status_body(ev: ModelEvaluation) -> dict[str, Any]:
    return {
        "model": ev.model,
        "version": ev.version,
        "environment": ev.environment,
        "status": ev.status,
        "evaluated_at": ev.evaluated_at,
        "window": {"start": ev.window_start, "end": ev.window_end},
        "reference": ev.reference,
        "baseline_version": ev.baseline_version,
        "fallback": ev.fallback,
        "rows": ev.rows,
        "features_drifted": ev.features_drifted,
        "drift": [{"rank": i + 1, **f.to_dict()} for i, f in enumerate(ev.features)],
        "prediction": [p.to_dict() for p in ev.prediction],
        "segments": [s.to_dict() for s in ev.segments],
    }


async def model_status(request: web.Request) -> web.Response:
    """Summary status and the ranked drift table of the latest evaluation."""
    ctx = _ctx(request)
    model, version = request.match_info["model"], request.match_info["version"]
    env = _pick_env(request, _known(ctx, model, version))
    ev = ctx.evaluator.latest().get((model, version, env))
    if ev is None:
        raise ApiError(404, f"model {model!r} version {version!r} has not been evaluated yet")
    return _json(_status_body(ev))


async def feature_history(request: web.Request) -> web.Response:
    """A feature's drift figures over the last evaluations, oldest first."""
    ctx = _ctx(request)
    model, version = request.match_info["model"], request.match_info["version"]
    feature = request.match_info["feature"]
    env = _pick_env(request, _known(ctx, model, version))
    segment = request.query.get("segment", "")
    points = ctx.evaluator.history(SeriesKey(model, version, env, feature, segment))
    if not points:
        raise ApiError(404, f"no evaluation history for feature {feature!r}", "feature")
    return _json(
        {
            "model": model,
            "version": version,
            "environment": env,
            "feature": feature,
            "segment": segment,
            "points": [p.to_dict() for p in points],
        }
    )


async def model_performance(request: web.Request) -> web.Response:
    """Performance of the model version per segment over the performance window."""
    ctx = _ctx(request)
    model, version = request.match_info["model"], request.match_info["version"]
    evaluator = ctx.extras.get("performance")
    if evaluator is None:
        raise ApiError(404, "the ground-truth join is not running")
    evals = await asyncio.to_thread(evaluator.evaluate)
    mine = [e for e in evals if e.model == model and e.version == version]
    if not mine:
        raise ApiError(404, f"no predictions of model {model!r} version {version!r} in the window")
    env = _pick_env(request, sorted({e.environment for e in mine}))
    segments = [e for e in mine if e.environment == env]
    joins = ctx.extras["joins"]
    counters = joins.counters()
    return _json(
        {
            "model": model,
            "version": version,
            "environment": env,
            "window": {"start": segments[0].window_start, "end": segments[0].window_end},
            "pending_predictions": joins.pending().get(model, 0),
            "actuals": {o: counters.get((model, o), 0) for o in JOIN_OUTCOMES},
            "segments": [e.to_dict() for e in segments],
        }
    )


async def evaluate_now(request: web.Request) -> web.Response:
    """Run an evaluation of every model now; return the models' summary statuses."""
    evals = await asyncio.to_thread(_ctx(request).evaluator.evaluate)
    return _json(
        {
            "evaluated": [
                {
                    "model": e.model,
                    "version": e.version,
                    "environment": e.environment,
                    "status": e.status,
                }
                for e in evals
            ]
        }
    )


# -- baselines ---------------------------------------------------------------------------------


async def list_baselines(request: web.Request) -> web.Response:
    """Every stored baseline (without content)."""
    model = request.query.get("model")
    infos = _ctx(request).registry.list(model)
    return _json({"baselines": [i.to_dict() for i in infos]})


async def get_baseline(request: web.Request) -> web.Response:
    """The baseline that applies to a model version (its own or a fallback), as stored JSON."""
    model, version = request.match_info["model"], request.match_info["version"]
    fallback = request.query.get("fallback", "true") != "false"
    entry = _ctx(request).registry.get(model, version, fallback=fallback)
    if entry is None:
        raise ApiError(404, f"no baseline for model {model!r} version {version!r}")
    return _json(
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
    try:
        baseline = parse_baseline(body)
    except BaselineFormatError as exc:
        raise ApiError(400, f"body: {exc}", "body") from None
    if baseline.model != model:
        raise ApiError(
            400, f"model: the baseline is for model {baseline.model!r}, not {model!r}", "model"
        )
    info = _ctx(request).registry.put(baseline, source="api", version=version)
    return _json(info.to_dict(), 201)


async def delete_baseline(request: web.Request) -> web.Response:
    """Delete the baseline stored under the model version (never a fallback's)."""
    model, version = request.match_info["model"], request.match_info["version"]
    if not _ctx(request).registry.delete(model, version):
        raise ApiError(404, f"no baseline stored for model {model!r} version {version!r}")
    return web.Response(status=204)


async def freeze_baseline(request: web.Request) -> web.Response:
    """Build and store a baseline from training/validation telemetry of the model version."""
    env = _environment(request, "validation", ("training", "validation"))
    return await _build(request, env or "validation", required_range=False, source="frozen")


async def pin_baseline(request: web.Request) -> web.Response:
    """Build and store a baseline from a time range of (production) telemetry."""
    env = _environment(request, "production", semconv.ENVIRONMENTS)
    return await _build(request, env or "production", required_range=True, source="pinned")


async def _build(
    request: web.Request, env: str, *, required_range: bool, source: str
) -> web.Response:
    ctx = _ctx(request)
    model, version = request.match_info["model"], request.match_info["version"]
    start = _time_param(request, "start", required=required_range)
    end = _time_param(request, "end", required=required_range)
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
    baseline = freeze.baseline_from_windows(
        model,
        version,
        windows,
        previous=None if previous is None else previous.baseline,
        now=ctx.clock(),
    )
    info = ctx.registry.put(baseline, source=source)
    return _json({**info.to_dict(), "environment": env, "from_version": from_version}, 201)


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document of this API."""
    text = resources.files("otelml.processor.api").joinpath("openapi.yaml").read_text("utf-8")
    return web.Response(text=text, content_type="application/yaml")


ROUTES: tuple[tuple[str, str, Callable[[web.Request], Any]], ...] = (
    ("GET", "/metrics", metrics),
    ("GET", "/healthz", healthz),
    ("GET", "/readyz", readyz),
    ("GET", API + "/openapi.yaml", openapi),
    ("GET", API + "/models", list_models),
    ("GET", MV + "/features", list_features),
    ("GET", MV + "/status", model_status),
    ("GET", MV + "/features/{feature}/history", feature_history),
    ("GET", MV + "/performance", model_performance),
    ("POST", API + "/evaluate", evaluate_now),
    ("GET", API + "/baselines", list_baselines),
    ("GET", MV + "/baseline", get_baseline),
    ("PUT", MV + "/baseline", put_baseline),
    ("DELETE", MV + "/baseline", delete_baseline),
    ("POST", MV + "/baseline:freeze", freeze_baseline),
    ("POST", MV + "/baseline:pin", pin_baseline),
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
    ``max_body_bytes`` bounds request bodies (413 beyond it).
    """
    ensure_components(ctx)
    app = web.Application(middlewares=[_errors], client_max_size=max_body_bytes)
    app[CTX] = ctx
    app[MAX_BODY] = max_body_bytes
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    if background:
        app.cleanup_ctx.append(_background)
    app.on_cleanup.append(_close_registry)
    return app
