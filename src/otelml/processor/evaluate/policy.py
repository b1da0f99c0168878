"""The drift decision as the processor's configuration sets it: methods and policy.

Kept beside the evaluator so that the decision's settings have one home: the evaluator applies
them, the config validates their values, and :mod:`otelml.stats.decision` defines them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from otelml.stats.decision import DriftPolicy


@dataclass
class DriftSettings:
    """The drift methods and decision policy the evaluator applies (None: the defaults)."""

    method_numeric: str | None = None
    method_categorical: str | None = None
    policy: DriftPolicy | None = None


def drift_settings(config: Any) -> DriftSettings:
    """Return the drift settings of a processor config, or raise ValueError naming what is wrong."""
    d = config.drift
    policy = DriftPolicy(
        fdr_alpha=d.fdr_alpha,
        min_samples=d.min_samples,
        # None keeps otelml.stats.decision's per-method thresholds.
        warning_threshold=d.warning_threshold,
        drift_threshold=d.drift_threshold,
    )
    errors = policy.validate()
    if errors:
        raise ValueError("drift: " + "; ".join(errors))
    return DriftSettings(d.numeric_method, d.categorical_method, policy)
