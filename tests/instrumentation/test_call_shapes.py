"""Every call shape x (success, exception, SDK disabled): same result, same exception, a span."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import otelml.instrumentation as oi
from otelml import semconv
from otelml.testing import Capture


class Boom(Exception):
    pass


@oi.observe(model="shapes")
def sync_predict(row: dict[str, float], fail: bool = False) -> float:
    """Sync docstring."""
    if fail:
        raise Boom("sync")
    return row["x"] * 2


@oi.observe(model="shapes")
async def async_predict(row: dict[str, float], fail: bool = False) -> float:
    """Async docstring."""
    await asyncio.sleep(0)
    if fail:
        raise Boom("async")
    return row["x"] * 2


@oi.observe(model="shapes")
def gen_predict(row: dict[str, float], fail: bool = False) -> Iterator[float]:
    """Generator docstring."""
    yield row["x"]
    if fail:
        raise Boom("gen")
    yield row["x"] * 2


@oi.observe(model="shapes")
async def agen_predict(row: dict[str, float], fail: bool = False) -> AsyncIterator[float]:
    """Async generator docstring."""
    yield row["x"]
    await asyncio.sleep(0)
    if fail:
        raise Boom("agen")
    yield row["x"] * 2


class Model:
    factor = 2.0

    @oi.observe(model="shapes")
    def method(self, row: dict[str, float], fail: bool = False) -> float:
        if fail:
            raise Boom("method")
        return row["x"] * self.factor

    @classmethod
    @oi.observe(model="shapes")
    def cls_inner(cls, row: dict[str, float], fail: bool = False) -> float:
        if fail:
            raise Boom("classmethod")
        return row["x"] * cls.factor

    @oi.observe(model="shapes")  # type: ignore[arg-type]
    @classmethod
    def cls_outer(cls, row: dict[str, float], fail: bool = False) -> float:
        if fail:
            raise Boom("classmethod")
        return row["x"] * cls.factor

    @staticmethod
    @oi.observe(model="shapes")
    def static_inner(row: dict[str, float], fail: bool = False) -> float:
        if fail:
            raise Boom("staticmethod")
        return row["x"] * 2

    @oi.observe(model="shapes")  # type: ignore[arg-type]
    @staticmethod
    def static_outer(row: dict[str, float], fail: bool = False) -> float:
        if fail:
            raise Boom("staticmethod")
        return row["x"] * 2


def _run(shape: str, fail: bool) -> object:
    row = {"x": 1.5}
    if shape == "sync":
        return sync_predict(row, fail=fail)
    if shape == "async":
        return asyncio.run(async_predict(row, fail=fail))
    if shape == "gen":
        return list(gen_predict(row, fail=fail))
    if shape == "agen":

        async def consume() -> list[float]:
            return [v async for v in agen_predict(row, fail=fail)]

        return asyncio.run(consume())
    m = Model()
    fn = {
        "method": m.method,
        "cls_inner": Model.cls_inner,
        "cls_outer": Model.cls_outer,
        "static_inner": Model.static_inner,
        "static_outer": m.static_outer,
    }[shape]
    return fn(row, fail=fail)


SHAPES = ["sync", "async", "gen", "agen", "method", "cls_inner", "cls_outer", "static_inner",
          "static_outer"]  # fmt: skip
EXPECTED = {"gen": [1.5, 3.0], "agen": [1.5, 3.0]}


@pytest.mark.parametrize("shape", SHAPES)
def test_success_records_span_and_returns_result(telemetry: Capture, shape: str) -> None:
    assert _run(shape, fail=False) == EXPECTED.get(shape, 3.0)
    [span] = telemetry.spans()
    assert span.name == "predict shapes"
    assert span.kind == SpanKind.INTERNAL
    assert span.status.status_code == StatusCode.UNSET
    assert span.attributes[semconv.MODEL_NAME] == "shapes"
    assert span.attributes[semconv.BATCH_SIZE] == 1
    [count] = telemetry.points(semconv.PREDICTION_COUNT.name, {semconv.SEGMENT: ""})
    assert count.value == 1
    assert telemetry.errors == []


@pytest.mark.parametrize("shape", SHAPES)
def test_exception_is_recorded_and_reraised_unchanged(telemetry: Capture, shape: str) -> None:
    with pytest.raises(Boom) as info:
        _run(shape, fail=True)
    assert info.value.args[0] in shape or shape.startswith(("cls", "static"))
    [span] = telemetry.spans()
    assert span.status.status_code == StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    assert telemetry.errors == []


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.usefixtures("disabled")
def test_sdk_disabled_runs_plain(telemetry: Capture, shape: str) -> None:
    assert _run(shape, fail=False) == EXPECTED.get(shape, 3.0)
    with pytest.raises(Boom):
        _run(shape, fail=True)
    assert telemetry.spans() == []
    assert telemetry.collect() == []


def test_signature_docstring_and_kind_are_kept() -> None:
    assert sync_predict.__doc__ == "Sync docstring."
    assert (
        str(inspect.signature(sync_predict))
        == "(row: 'dict[str, float]', fail: 'bool' = False) -> 'float'"
    )
    assert inspect.iscoroutinefunction(async_predict)
    assert inspect.isgeneratorfunction(gen_predict)
    assert inspect.isasyncgenfunction(agen_predict)
    assert sync_predict.__name__ == "sync_predict"


def test_span_is_child_of_current_span(telemetry: Capture) -> None:
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("http request") as parent:
        sync_predict({"x": 1.0})
    child = telemetry.spans("predict shapes")[0]
    assert child.parent is not None
    assert child.parent.span_id == parent.get_span_context().span_id


def test_generator_is_not_buffered_and_close_ends_span(telemetry: Capture) -> None:
    seen = []

    @oi.observe(model="stream")
    def stream(row: dict[str, float]) -> Iterator[float]:
        for i in range(1000):
            seen.append(i)
            yield float(i)

    it = stream({"x": 1.0})
    assert next(it) == 0.0
    assert seen == [0]  # one item pulled, one produced
    it.close()
    [span] = telemetry.spans()
    assert span.status.status_code == StatusCode.UNSET


def test_generator_send_and_throw_are_forwarded(telemetry: Capture) -> None:
    @oi.observe(model="stream")
    def echo(row: dict[str, float]) -> Iterator[float]:
        received = yield 0.0
        try:
            yield float(received)
        except KeyError:
            yield -1.0

    it = echo({"x": 1.0})
    assert next(it) == 0.0
    assert it.send(5) == 5.0
    assert it.throw(KeyError("k")) == -1.0
    it.close()
    assert len(telemetry.spans()) == 1
