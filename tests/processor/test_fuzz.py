"""Hypothesis: random and mutated payloads never crash the handler, and refused ones change nothing.

Payloads go through exactly what the receivers run (``decode_request`` then
``Pipeline.handle``) with a real store, for all three signals and both encodings.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otelml import semconv
from otelml.processor.receive.ingest import metrics_replayer
from otelml.processor.receive.otlp import BadRequest, TooLarge, decode_request, gunzip
from otelml.processor.receive.pipeline import Pipeline, Status
from otelml.processor.receive.series import IngestOptions
from otelml.processor.state.aggregator import Aggregator
from otelml.processor.state.store import Store
from otelml.processor.telemetry import ProcessorTelemetry

from .otlpdata import (
    CUMULATIVE,
    expo_metric,
    hist_metric,
    log_record,
    logs_request,
    metrics_request,
    model_attrs,
    span,
    sum_metric,
    traces_request,
)

SEEDS = {
    "metrics": metrics_request(
        hist_metric(
            semconv.FEATURE_VALUES.name,
            [(model_attrs(feature="amount"), [0.0, 1.0], [1, 2, 3], 2.5)],
            temporality=CUMULATIVE,
            start_ns=1,
        ),
        expo_metric(
            semconv.PREDICTION_VALUES.name, model_attrs(), scale=3, offset=-4, counts=[1, 2]
        ),
        sum_metric(
            semconv.FEATURE_CATEGORY_COUNT.name,
            [(model_attrs(feature="c", **{semconv.FEATURE_CATEGORY: "US"}), 3)],
        ),
    ).SerializeToString(),
    "traces": traces_request(
        [
            span(
                {
                    semconv.MODEL_NAME: "m",
                    semconv.feature_attribute("a"): 1.5,
                    semconv.feature_attribute("b"): "x",
                }
            )
        ]
    ).SerializeToString(),
    "logs": logs_request(
        [
            log_record(
                semconv.PREDICTION_EVENT,
                {
                    semconv.MODEL_NAME: "m",
                    semconv.PREDICTION_ID: "p",
                    semconv.PREDICTION_VALUE: 0.5,
                },
            )
        ]
    ).SerializeToString(),
}


class Harness:
    """A pipeline on a real store, driven from a private event loop."""

    def __init__(self, path: Path) -> None:
        self.aggregator = Aggregator(60)
        self.store = Store(path, self.aggregator, replay=metrics_replayer(IngestOptions()))
        self.store.open()
        self.pipeline = Pipeline(self.store, IngestOptions(), ProcessorTelemetry())
        self.loop = asyncio.new_event_loop()
        # Accepted data must also apply cleanly: the writer logs when it cannot.
        self.errors: list[logging.LogRecord] = []
        handler = logging.Handler(logging.ERROR)
        handler.emit = self.errors.append  # type: ignore[method-assign]
        logging.getLogger("otelml.processor").addHandler(handler)
        self._handler = handler

    def send(self, signal: str, body: bytes, encoding: str, gz: bool) -> Status | None:
        """Return the outcome's status, or None when the request could not be decoded."""
        generation = self.aggregator.generation
        try:
            if gz:
                body = gunzip(body, 1 << 20)
            msg = decode_request(signal, body, encoding)  # type: ignore[arg-type]
        except (BadRequest, TooLarge):
            assert self.aggregator.generation == generation
            return None
        outcome = self.loop.run_until_complete(self.pipeline.handle(signal, msg))  # type: ignore[arg-type]
        if outcome.status is not Status.OK:
            assert self.aggregator.generation == generation
        assert not self.errors, self.errors[0].getMessage()
        return outcome.status

    def close(self) -> None:
        logging.getLogger("otelml.processor").removeHandler(self._handler)
        self.store.close()
        self.loop.close()


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    with tempfile.TemporaryDirectory() as d:
        h = Harness(Path(d) / "fuzz.db")
        yield h
        h.close()


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(
    signal=st.sampled_from(sorted(SEEDS)),
    body=st.binary(max_size=512),
    encoding=st.sampled_from(["protobuf", "json"]),
    gz=st.booleans(),
)
def test_random_bytes(harness: Harness, signal: str, body: bytes, encoding: str, gz: bool) -> None:
    harness.send(signal, body, encoding, gz)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    signal = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[signal])
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "delete" and data:
            del data[i]
        elif op == "insert":
            data.insert(i, draw(st.integers(0, 255)))
        else:
            del data[i:]
    return signal, bytes(data)


@FUZZ
@given(case=mutated(), gz=st.booleans())
def test_mutated_protobuf(harness: Harness, case: tuple[str, bytes], gz: bool) -> None:
    signal, body = case
    harness.send(signal, gzip.compress(body) if gz else body, "protobuf", gz)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=4),
    max_leaves=20,
)


@st.composite
def mutated_json(draw: st.DrawFn) -> tuple[str, bytes]:
    from otelml.processor.receive.otlp import REQUEST_TYPES

    signal = draw(st.sampled_from(sorted(SEEDS)))
    msg = REQUEST_TYPES[signal].FromString(SEEDS[signal])
    doc = json_format.MessageToDict(msg)

    def paths(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        out = [prefix]
        if isinstance(node, dict):
            for k, v in node.items():
                out += paths(v, (*prefix, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                out += paths(v, (*prefix, i))
        return out

    target = draw(st.sampled_from(paths(doc)[1:]))
    node: object = doc
    for p in target[:-1]:
        node = node[p]  # type: ignore[index]
    node[target[-1]] = draw(JSON_VALUES)  # type: ignore[index]
    return signal, json.dumps(doc).encode()


@FUZZ
@given(case=mutated_json())
def test_mutated_json(harness: Harness, case: tuple[str, bytes]) -> None:
    signal, body = case
    harness.send(signal, body, "json", False)


def test_the_seeds_are_accepted(harness: Harness) -> None:
    for signal, body in SEEDS.items():
        assert harness.send(signal, body, "protobuf", False) is Status.OK
