"""``@otelml.observe``: the decorator, with its wrapper chosen once at decoration time.

Sync functions, coroutines, generators and async generators each get their own wrapper; methods,
classmethods and staticmethods work on either side of the decorator. Every wrapper has the same
three zones: setup guarded (on failure the model runs uninstrumented), the model's exception
recorded and re-raised unchanged, recording guarded (the real result always returned).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from typing import Any, TypeVar, cast

from opentelemetry import context, trace

from otelml.instrumentation.config import make_config
from otelml.instrumentation.guard import GUARD
from otelml.instrumentation.observer import Call, Observer, baseline_bins
from otelml.instrumentation.runtime import RUNTIME, Pipes

F = TypeVar("F", bound=Callable[..., Any])


def _pipes() -> Pipes | None:
    p = RUNTIME.pipes
    if p is None or not p.complete:
        p = RUNTIME.poll()
    return p


def _begin(obs: Observer, pipes: Pipes, args: Any, kwargs: Any) -> Call | None:
    try:
        return obs.begin(pipes, args, kwargs)
    except Exception as exc:
        GUARD.error("setup", exc)
        return None


def wrap(fn: Callable[..., Any], obs: Observer) -> Callable[..., Any]:
    """Return ``fn`` wrapped for ``obs``; the kind of wrapper is chosen here, once."""
    if inspect.isasyncgenfunction(fn):
        return _wrap_async_gen(fn, obs)
    if inspect.iscoroutinefunction(fn):
        return _wrap_async(fn, obs)
    if inspect.isgeneratorfunction(fn):
        return _wrap_gen(fn, obs)
    return _wrap_sync(fn, obs)


def _wrap_sync(fn: Callable[..., Any], obs: Observer) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        p = RUNTIME.pipes
        if p is None or not p.complete:
            p = RUNTIME.poll()
            if p is None:
                return fn(*args, **kwargs)
        call = _begin(obs, p, args, kwargs)
        if call is None:
            return fn(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            obs.fail(call, exc)
            raise
        obs.finish(call, result)
        return result

    return wrapper


def _wrap_async(fn: Callable[..., Any], obs: Observer) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        p = _pipes()
        if p is None:
            return await fn(*args, **kwargs)
        call = _begin(obs, p, args, kwargs)
        if call is None:
            return await fn(*args, **kwargs)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            obs.fail(call, exc)
            raise
        obs.finish(call, result)
        return result

    return wrapper


def _step(call: Call, step: Callable[[], Any]) -> Any:
    # The span is current only while the model's own code runs, never across a yield, so the
    # caller's context is never left holding our span while the generator is suspended.
    span = call.span
    if span is None:
        return step()
    token = context.attach(trace.set_span_in_context(span))
    try:
        return step()
    finally:
        context.detach(token)


def _wrap_gen(fn: Callable[..., Any], obs: Observer) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        call = _begin_stream(obs, args, kwargs)
        if call is None:
            return (yield from fn(*args, **kwargs))
        with _StreamEnd(obs, call):
            try:
                gen = _step(call, lambda: fn(*args, **kwargs))
                item = _step(call, gen.__next__)
                while True:
                    obs.finish(call, item, stream_item=True)
                    try:
                        sent = yield item
                    except GeneratorExit:
                        gen.close()
                        raise
                    except BaseException as thrown:
                        item = _step(call, lambda t=thrown: gen.throw(t))  # type: ignore[misc]
                        continue
                    item = _step(call, lambda s=sent: gen.send(s))  # type: ignore[misc]
            except StopIteration as stop:
                return stop.value

    return wrapper


def _wrap_async_gen(fn: Callable[..., Any], obs: Observer) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        call = _begin_stream(obs, args, kwargs)
        if call is None:
            async for item in fn(*args, **kwargs):
                yield item
            return
        with _StreamEnd(obs, call):
            try:
                agen = _step(call, lambda: fn(*args, **kwargs))
                item = await _astep(call, agen.__anext__)
                while True:
                    obs.finish(call, item, stream_item=True)
                    try:
                        sent = yield item
                    except GeneratorExit:
                        await agen.aclose()
                        raise
                    except BaseException as thrown:
                        item = await _astep(call, lambda t=thrown: agen.athrow(t))  # type: ignore[misc]
                        continue
                    item = await _astep(call, lambda s=sent: agen.asend(s))  # type: ignore[misc]
            except StopAsyncIteration:
                return

    return wrapper


async def _astep(call: Call, step: Callable[[], Any]) -> Any:
    span = call.span
    if span is None:
        return await step()
    token = context.attach(trace.set_span_in_context(span))
    try:
        return await step()
    finally:
        context.detach(token)


def _begin_stream(obs: Observer, args: Any, kwargs: Any) -> Call | None:
    """Return the call of a generator's whole stream (None: run uninstrumented)."""
    p = _pipes()
    call = None if p is None else _begin(obs, p, args, kwargs)
    if call is None:
        return None
    # begin() made the span current; a generator must not keep it current across yields.
    if call.token is not None:
        token, call.token = call.token, None
        try:
            context.detach(token)
        except Exception as exc:
            GUARD.error("setup", exc)
    obs.record_stream_inputs(call)
    return call


class _StreamEnd:
    """Ends a stream's call on leaving: with the model's error, or none when closed early."""

    __slots__ = ("call", "obs")

    def __init__(self, obs: Observer, call: Call) -> None:
        self.obs, self.call = obs, call

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: object, exc: BaseException | None, tb: object) -> None:
        # GeneratorExit is the consumer closing the stream, not a failure of the model.
        self.obs.finish_stream(self.call, None if isinstance(exc, GeneratorExit) else exc)


def observe(
    *,
    model: str,
    version: str | None = None,
    task: str | None = None,
    environment: str | None = None,
    baseline: Any = None,
    id_from: str | Callable[..., Any] | None = None,
    log_predictions: bool | None = None,
    segment_by: Sequence[str] | str | None = None,
    span_features: bool | Sequence[str] | None = None,
    mask_features: Sequence[str] | None = None,
    hash_features: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    classes: Sequence[object] | None = None,
    input_arg: str | int | None = None,
    inputs: Callable[..., Any] | None = None,
    outputs: Callable[..., Any] | None = None,
    max_categories: int | None = None,
    max_segments: int | None = None,
    max_features: int | None = None,
    max_span_ids: int | None = None,
    max_string_length: int | None = None,
    nan_is_missing: bool = True,
) -> Callable[[F], F]:
    """Return a decorator that observes a predict function: span, aggregated metrics, logs.

    The decorated function keeps its signature, docstring and static type. Options are
    validated now (``ConfigError`` names the bad one); every option is described in
    docs/instrumentation.md.
    """
    # The parameters are exactly make_config's options; nothing else is local yet.
    cfg = make_config(**locals())
    bins = baseline_bins(cfg.baseline)  # load and validate the baseline now, not per call

    def decorate(fn: F) -> F:
        obj: Any = fn  # staticmethod / classmethod objects are not Callable to mypy
        if isinstance(obj, staticmethod):
            return cast(F, staticmethod(decorate(obj.__func__)))
        if isinstance(obj, classmethod):
            inner = obj.__func__
            obs = Observer(cfg, inner, skip_first=True, bins=bins)
            return cast(F, classmethod(wrap(inner, obs)))
        return cast(F, wrap(fn, Observer(cfg, fn, bins=bins)))

    return decorate
