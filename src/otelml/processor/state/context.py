"""The small bundle of shared objects that the service hands to the API and evaluator.

``service.py`` (processor-core) builds one :class:`ProcessorContext` and passes it to
``otelml.processor.api.app.make_http_app(ctx)`` (processor-eval), whose application is mounted on
the metrics port. processor-eval creates its ``BaselineRegistry`` and ``Evaluator`` inside
``make_http_app`` (or in the app's ``on_startup``), stores them on ``ctx.registry`` and
``ctx.evaluator``, and runs its periodic work (evaluation, OTLP push) as tasks in the app's
``cleanup_ctx`` / ``on_startup`` + ``on_cleanup``: the service starts the app (``AppRunner.setup``)
after the store is open and the state rebuilt, and cleans it up (``AppRunner.cleanup``) on
shutdown before the store closes.

``ready`` is set by the service once every listener is bound and the state is rebuilt; cleared
when shutdown begins. ``/readyz`` answers 200 only while it is set.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otelml.processor.config import ProcessorConfig
from otelml.processor.state.aggregator import Aggregator
from otelml.processor.telemetry import ProcessorTelemetry


@dataclass
class ProcessorContext:
    """Shared objects of one running processor."""

    config: ProcessorConfig
    aggregator: Aggregator
    telemetry: ProcessorTelemetry
    db_path: Path
    """The SQLite file; processor-eval's registry opens its own connection to it."""
    clock: Callable[[], float] = time.time
    registry: Any = None
    """processor-eval's BaselineRegistry, once created."""
    evaluator: Any = None
    """processor-eval's Evaluator, once created."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Room for other shared objects without changing this class."""
    checks: dict[str, Callable[[], bool]] = field(default_factory=dict)
    """Core parts that must be alive for the processor to be ready (the writer threads)."""
    _ready: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def ready(self) -> bool:
        """Return whether the processor is started, accepting data, and its core parts live."""
        return self._ready.is_set() and not self.failed()

    @ready.setter
    def ready(self, value: bool) -> None:
        if value:
            self._ready.set()
        else:
            self._ready.clear()

    def failed(self) -> list[str]:
        """Return the names of core parts that are no longer alive."""
        return [name for name, alive in self.checks.items() if not alive()]
