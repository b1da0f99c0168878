"""Read routes over models: what is seen, the latest evaluation, drift history, performance.

Plus ``POST /evaluate``, which runs an evaluation now and answers with the summary statuses.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from otelml.processor.api.http import (
    ApiError,
    context,
    json_response,
    known_environments,
    pick_environment,
)
from otelml.processor.evaluate.evaluator import ModelEvaluation
from otelml.processor.evaluate.evaluator import finite as _finite
from otelml.processor.state.aggregator import PREDICTION_FEATURE, SeriesKey
from otelml.processor.state.joins import OUTCOMES as JOIN_OUTCOMES


async def list_models(request: web.Request) -> web.Response:
    """Every model, its versions and each version's environments."""
    tree: dict[str, dict[str, list[str]]] = {}
    for m, v, e in context(request).aggregator.models():
        tree.setdefault(m, {}).setdefault(v, []).append(e)
    return json_response(
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
    ctx = context(request)
    model, version = request.match_info["model"], request.match_info["version"]
    envs = known_environments(ctx, model, version)
    env = pick_environment(request, envs)
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
    return json_response({"model": model, "version": version, "environment": env, "features": out})


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
    ctx = context(request)
    model, version = request.match_info["model"], request.match_info["version"]
    env = pick_environment(request, known_environments(ctx, model, version))
    ev = ctx.evaluator.latest().get((model, version, env))
    if ev is None:
        raise ApiError(404, f"model {model!r} version {version!r} has not been evaluated yet")
    return json_response(_status_body(ev))


async def feature_history(request: web.Request) -> web.Response:
    """A feature's drift figures over the last evaluations, oldest first."""
    ctx = context(request)
    model, version = request.match_info["model"], request.match_info["version"]
    feature = request.match_info["feature"]
    env = pick_environment(request, known_environments(ctx, model, version))
    segment = request.query.get("segment", "")
    points = ctx.evaluator.history(SeriesKey(model, version, env, feature, segment))
    if not points:
        raise ApiError(404, f"no evaluation history for feature {feature!r}", "feature")
    return json_response(
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
    ctx = context(request)
    model, version = request.match_info["model"], request.match_info["version"]
    evaluator = ctx.extras.get("performance")
    if evaluator is None:
        raise ApiError(404, "the ground-truth join is not running")
    evals = await asyncio.to_thread(evaluator.evaluate)
    mine = [e for e in evals if e.model == model and e.version == version]
    if not mine:
        raise ApiError(404, f"no predictions of model {model!r} version {version!r} in the window")
    env = pick_environment(request, sorted({e.environment for e in mine}))
    segments = [e for e in mine if e.environment == env]
    joins = ctx.extras["joins"]
    counters = joins.counters()
    return json_response(
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
    evals = await asyncio.to_thread(context(request).evaluator.evaluate)
    return json_response(
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
