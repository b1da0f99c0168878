from __future__ import annotations

from collections.abc import Iterator

import pytest

import otelml.testing
from otelml.instrumentation.runtime import RUNTIME


@pytest.fixture
def telemetry() -> Iterator[otelml.testing.Capture]:
    with otelml.testing.capture() as cap:
        yield cap
    assert RUNTIME.pipes is None or RUNTIME.pipes.generation >= 0


@pytest.fixture
def disabled() -> Iterator[None]:
    RUNTIME.set_disabled(True)
    try:
        yield
    finally:
        RUNTIME.set_disabled(None)
