"""The in-app instrumentation: ``observe``, ``instrument``, ``record_actuals``, ``configure``."""

from otelml.instrumentation.actuals import record_actuals
from otelml.instrumentation.config import ConfigError
from otelml.instrumentation.estimator import InstrumentedEstimator, instrument
from otelml.instrumentation.observe import observe
from otelml.instrumentation.observer import last_prediction_ids
from otelml.instrumentation.setup import Telemetry, configure

__all__ = [
    "ConfigError",
    "InstrumentedEstimator",
    "Telemetry",
    "configure",
    "instrument",
    "last_prediction_ids",
    "observe",
    "record_actuals",
]
