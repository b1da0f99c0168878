"""otelml: OpenTelemetry-native ML observability.

The public API: decorate a predict function with :func:`observe`, wrap an estimator with
:func:`instrument`, send ground truth with :func:`record_actuals`, and set up the OpenTelemetry SDK
in one line with :func:`configure` when the app has not done so itself.

The names are loaded on first use, so that ``import otelml.stats`` (the processor's path) does not
pull in the instrumentation, and the instrumentation never imports the processor.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from otelml._version import __version__

if TYPE_CHECKING:
    from otelml.baselines import build_baseline, load_baseline, save_baseline
    from otelml.instrumentation.actuals import record_actuals
    from otelml.instrumentation.config import ConfigError
    from otelml.instrumentation.delivery import FlushResult, flush
    from otelml.instrumentation.estimator import InstrumentedEstimator, instrument
    from otelml.instrumentation.observe import observe
    from otelml.instrumentation.observer import last_prediction_ids
    from otelml.instrumentation.setup import Telemetry, configure

_LAZY: dict[str, str] = {
    "build_baseline": "otelml.baselines",
    "load_baseline": "otelml.baselines",
    "save_baseline": "otelml.baselines",
    "ConfigError": "otelml.instrumentation.config",
    "FlushResult": "otelml.instrumentation.delivery",
    "InstrumentedEstimator": "otelml.instrumentation.estimator",
    "Telemetry": "otelml.instrumentation.setup",
    "configure": "otelml.instrumentation.setup",
    "flush": "otelml.instrumentation.delivery",
    "instrument": "otelml.instrumentation.estimator",
    "last_prediction_ids": "otelml.instrumentation.observer",
    "observe": "otelml.instrumentation.observe",
    "record_actuals": "otelml.instrumentation.actuals",
}

__all__ = [
    "ConfigError",
    "FlushResult",
    "InstrumentedEstimator",
    "Telemetry",
    "__version__",
    "build_baseline",
    "configure",
    "flush",
    "instrument",
    "last_prediction_ids",
    "load_baseline",
    "observe",
    "record_actuals",
    "save_baseline",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otelml' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
