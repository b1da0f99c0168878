"""Bin edges and feature kinds that an observed model takes from its baseline."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from otelml.instrumentation.config import ConfigError


def baseline_bins(
    baseline: Any,
) -> tuple[dict[str, tuple[float, ...]], dict[str, str], tuple[float, ...] | None]:
    """Return (edges per numeric feature, kind per feature, prediction edges) of a baseline.

    ``baseline``: None, a path to a baseline JSON file, an ``otelml.stats.Baseline``, or a
    mapping of feature name to bin edges.
    """
    if baseline is None:
        return {}, {}, None
    if isinstance(baseline, (str, os.PathLike)):
        from otelml.baselines import load_baseline

        try:
            baseline = load_baseline(baseline)
        except Exception as exc:
            raise ConfigError(f"baseline: cannot load {os.fspath(baseline)!r}: {exc}") from exc
    if isinstance(baseline, Mapping):
        edges = {}
        for name, e in baseline.items():
            arr = np.asarray(e, dtype=np.float64)
            if arr.ndim != 1 or not np.all(np.isfinite(arr)) or np.any(np.diff(arr) <= 0):
                raise ConfigError(f"baseline: edges of {name!r} must be finite and increasing")
            edges[str(name)] = tuple(arr.tolist())
        return edges, {k: "numeric" for k in edges}, None
    features = getattr(baseline, "features", None)
    if not isinstance(features, Mapping):
        raise ConfigError(f"baseline: expected a path, a Baseline or a mapping, got {baseline!r}")
    edges, kinds = {}, {}
    for name, fb in features.items():
        kinds[name] = fb.kind
        if fb.kind == "numeric":
            edges[name] = tuple(fb.edges)
    pred = getattr(baseline, "prediction", None)
    pred_edges = tuple(pred.edges) if pred is not None and pred.kind == "numeric" else None
    return edges, kinds, pred_edges
