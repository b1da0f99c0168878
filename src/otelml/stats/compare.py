"""Drift of a current sketch against a feature's frozen baseline: the glue over ``drift``.

:func:`compare` lines a sketch up with its baseline (the baseline's bins for a numeric feature,
projecting an exponential histogram onto them; the union of categories for a categorical one),
picks the default method of the feature's kind and returns a :class:`DriftResult`.
:func:`compare_many` does the same for a whole model, batching the features that share a method
into one vectorised call per method.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import numpy as np

from otelml.stats._w1_reps import corrected_means, side_bounds
from otelml.stats.baseline import FeatureBaseline
from otelml.stats.categorical import CategoryCounts
from otelml.stats.drift import (
    METHODS,
    ORDERED_METHODS,
    DriftResult,
    FloatArray,
    _representatives,
    batch_drift,
)
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram

Sketch = FixedHistogram | ExponentialHistogram | CategoryCounts

DEFAULT_METHODS: Final[Mapping[str, str]] = MappingProxyType(
    {"numeric": "wasserstein", "categorical": "chi_square"}
)
"""Default method per feature kind; why these, see ``docs/drift.md``."""


class _Sides:
    """Per-bin priors and bounds of both sides' representatives, and each side's total."""

    __slots__ = (
        "cur_hi",
        "cur_lo",
        "cur_prior",
        "cur_total",
        "ref_hi",
        "ref_lo",
        "ref_prior",
        "ref_total",
    )

    def __init__(self, baseline: FeatureBaseline, hist: FixedHistogram, reps: FloatArray) -> None:
        e = list(baseline.edges)
        fallback = reps.tolist()
        means = baseline.bin_means
        if means:
            # Exact bin means need no correction; an empty bin keeps the edge-based value.
            self.ref_prior = [m if m == m else f for m, f in zip(means, fallback, strict=True)]
            self.ref_total = math.nan
        else:
            self.ref_prior = list(fallback)
            n_ref = sum(baseline.ref_counts)
            self.ref_total = baseline.mean * n_ref if math.isfinite(baseline.mean) else math.nan
        self.ref_lo, self.ref_hi = side_bounds(e, baseline.min, baseline.max, reps)
        lo, hi = side_bounds(e, hist.min, hist.max, reps)
        prior = list(self.ref_prior)
        # An open bin beyond the baseline's own min / max (edges that include them) holds
        # the window's out-of-range values, which start at its middle; an open bin the
        # reference fills (interior quantile edges only) starts where the reference's mass is.
        if e:
            if lo[0] < e[0] and e[0] <= baseline.min:
                prior[0] = 0.5 * (lo[0] + e[0])
            if hi[-1] > e[-1] and e[-1] >= baseline.max:
                prior[-1] = 0.5 * (hi[-1] + e[-1])
        self.cur_prior, self.cur_lo, self.cur_hi = prior, lo, hi
        self.cur_total = hist.sum if e and math.isfinite(hist.sum) else math.nan


class _Aligned:
    """A feature's reference and current counts on common bins, ready for a kernel."""

    __slots__ = ("cur", "details", "new_share", "ref", "reps", "scale", "sides")

    def __init__(
        self,
        ref: FloatArray,
        cur: FloatArray,
        *,
        reps: FloatArray | None = None,
        scale: float = 1.0,
        new_share: float = 0.0,
        details: Mapping[str, float] | None = None,
        sides: _Sides | None = None,
    ) -> None:
        self.ref, self.cur, self.reps, self.scale = ref, cur, reps, scale
        self.new_share = new_share
        self.details = dict(details or {})
        self.sides = sides


def _method_for(baseline: FeatureBaseline, method: str | None) -> str:
    chosen = DEFAULT_METHODS[baseline.kind] if method is None else method
    if chosen not in METHODS:
        raise ValueError(f"method must be one of {METHODS} or None, got {method!r}")
    if baseline.kind == "categorical" and chosen in ORDERED_METHODS:
        raise ValueError(
            f"method {chosen!r} needs ordered bins; feature {baseline.name!r} is categorical"
        )
    return chosen


def _align_numeric(baseline: FeatureBaseline, current: Sketch) -> _Aligned:
    edges = np.asarray(baseline.edges, dtype=np.float64)
    details: dict[str, float] = {}
    if isinstance(current, ExponentialHistogram):
        bound = current.projection_error_bound(edges)
        hist = current.project(edges)
        # Share of the current values that the projection may have put in a neighbouring bin.
        details["projection_error_share"] = bound / hist.count if hist.count else 0.0
    elif isinstance(current, FixedHistogram):
        hist = current
        if not np.array_equal(hist.edges, edges):
            raise ValueError(
                f"current: histogram edges differ from the baseline's edges of {baseline.name!r}; "
                "count the window with baseline.new_sketch()"
            )
    else:
        raise ValueError(
            f"current: feature {baseline.name!r} is numeric but got {type(current).__name__}"
        )
    k = edges.size + 1
    ref = np.asarray(baseline.ref_counts, dtype=np.float64) if baseline.ref_counts else np.zeros(k)
    std = baseline.std
    scale = std if math.isfinite(std) and std > 0 else 1.0
    # The baseline validated its edges already: skip the checks (1,000 features add up).
    reps = _representatives(list(baseline.edges), baseline.min, baseline.max, scale)
    cur = np.asarray(hist.counts, dtype=np.float64)
    sides = _Sides(baseline, hist, reps)
    return _Aligned(ref, cur, reps=reps, scale=scale, details=details, sides=sides)


def _align_categorical(baseline: FeatureBaseline, current: Sketch) -> _Aligned:
    if not isinstance(current, CategoryCounts):
        raise ValueError(
            f"current: feature {baseline.name!r} is categorical but got {type(current).__name__}"
        )
    ref_map = baseline.categories
    cur_map = current.counts
    names = sorted(set(ref_map) | set(cur_map))
    ref = np.array([ref_map.get(c, 0) for c in names], dtype=np.float64)
    cur = np.array([cur_map.get(c, 0) for c in names], dtype=np.float64)
    if not names:
        ref = cur = np.zeros(1)
    n_cur = float(cur.sum())
    # "__other__" counts as new when the baseline had no overflow: it holds unseen values.
    new = float(cur[ref == 0].sum()) if names else 0.0
    return _Aligned(ref, cur, new_share=new / n_cur if n_cur > 0 else 0.0)


def _align(baseline: FeatureBaseline, current: Sketch) -> _Aligned:
    if baseline.kind == "numeric":
        return _align_numeric(baseline, current)
    return _align_categorical(baseline, current)


def _representatives_of(
    items: list[tuple[str, _Aligned]], ref: FloatArray, cur: FloatArray, k: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return both sides' representatives (``_w1_reps``) and the scales, for padded rows."""
    m = len(items)
    # Padded bins count nothing, so any increasing continuation of the values will do (with
    # no room to move).
    grid = np.tile(np.arange(k, dtype=np.float64), (m, 1))
    cols = {name: grid.copy() for name in ("rp", "rl", "rh", "cp", "cl", "ch")}
    totals = np.full((m, 2), math.nan)
    scale = np.ones(m)
    for i, (_, a) in enumerate(items):
        sd = a.sides
        assert sd is not None
        size = a.ref.size
        last = sd.ref_prior[-1] if sd.ref_prior else 0.0
        top = max(last, sd.cur_hi[-1], sd.ref_hi[-1]) + 1.0 + np.arange(k - size)
        for key, vals in zip(
            cols,
            (sd.ref_prior, sd.ref_lo, sd.ref_hi, sd.cur_prior, sd.cur_lo, sd.cur_hi),
            strict=True,
        ):
            cols[key][i, :size] = vals
            cols[key][i, size:] = top
        totals[i] = (sd.ref_total, sd.cur_total)
        scale[i] = a.scale
    mu = corrected_means(cols["rp"], ref, totals[:, 0], cols["rl"], cols["rh"])
    nu = corrected_means(cols["cp"], cur, totals[:, 1], cols["cl"], cols["ch"])
    return mu, nu, scale


def compare(
    feature_baseline: FeatureBaseline, current: Sketch, method: str | None = None
) -> DriftResult:
    """Return the drift of ``current`` against ``feature_baseline`` by ``method``.

    Parameters
    ----------
    feature_baseline
        The frozen reference of one feature.
    current
        The window's sketch: a :class:`FixedHistogram` on the baseline's edges or an
        :class:`ExponentialHistogram` (projected onto them; ``details["projection_error_share"]``
        bounds the share of values that may sit in a neighbouring bin) for a numeric feature,
        :class:`CategoryCounts` for a categorical one.
    method
        One of :data:`otelml.stats.drift.METHODS`; None picks :data:`DEFAULT_METHODS` of the
        feature's kind. ``"ks"`` and ``"wasserstein"`` need a numeric feature.

    Raises
    ------
    ValueError
        When the sketch does not fit the feature's kind or bins, or the method is unknown or
        needs ordered bins.
    """
    return compare_many({feature_baseline.name: (feature_baseline, current)}, method=method)[
        feature_baseline.name
    ]


def compare_many(
    pairs: Mapping[str, tuple[FeatureBaseline, Sketch]],
    *,
    method: str | None = None,
    numeric_method: str | None = None,
    categorical_method: str | None = None,
) -> dict[str, DriftResult]:
    """Return ``{name: DriftResult}`` for many ``(baseline, current)`` pairs, batched per method.

    ``method`` applies to every feature; otherwise ``numeric_method`` / ``categorical_method``
    (None: :data:`DEFAULT_METHODS`). Features sharing a method are zero-padded to a common
    number of bins and evaluated in one vectorised call, which keeps a 1,000-feature model in
    the low milliseconds. Errors are raised as by :func:`compare`.
    """
    groups: dict[str, list[tuple[str, _Aligned]]] = {}
    for name, (baseline, current) in pairs.items():
        per_kind = numeric_method if baseline.kind == "numeric" else categorical_method
        chosen = _method_for(baseline, method if method is not None else per_kind)
        groups.setdefault(chosen, []).append((name, _align(baseline, current)))
    out: dict[str, DriftResult] = {}
    for chosen, items in groups.items():
        k = max(a.ref.size for _, a in items)
        m = len(items)
        ref = np.zeros((m, k))
        cur = np.zeros((m, k))
        reps = cur_reps = scale = None
        for i, (_, a) in enumerate(items):
            ref[i, : a.ref.size] = a.ref
            cur[i, : a.cur.size] = a.cur
        if chosen == "wasserstein":
            reps, cur_reps, scale = _representatives_of(items, ref, cur, k)
        results = batch_drift(
            chosen,
            ref,
            cur,
            reps=reps,
            cur_reps=cur_reps,
            scale=scale,
            bins=[a.ref.size for _, a in items],
            new_category_share=[a.new_share for _, a in items],
            extra_details=[a.details for _, a in items],
        )
        for (name, _), res in zip(items, results, strict=True):
            out[name] = res
    return {name: out[name] for name in pairs}
