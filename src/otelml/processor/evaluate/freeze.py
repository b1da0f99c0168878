"""Baselines built from the processor's own telemetry, and sketches re-counted on baseline bins.

Freezing (``environment=training|validation`` telemetry, on request) and pinning (a production
time range) both turn merged :class:`~otelml.processor.state.aggregator.FeatureWindow` s into a
:class:`~otelml.stats.Baseline`:

- a numeric series that arrived as explicit-bucket histograms keeps those bucket edges as the
  baseline's edges (the processor never saw the raw values, so quantile edges cannot be made
  finer than the buckets it has); the counts are exact;
- a numeric series that arrived as base-2 exponential histograms gets edges at the deciles of
  the exponential histogram (each edge within one exponential bucket, a relative error of at most
  ``2**(2**-scale) - 1``), and reference counts projected onto them;
- ``mean`` is exact (sum / count); ``std`` is computed from bin representative values, so it is
  approximate; ``min`` / ``max`` are exact when the sketches carried them;
- categorical series keep their category counts; the prediction series
  (:data:`~otelml.processor.state.aggregator.PREDICTION_FEATURE`) becomes ``Baseline.prediction``;
- feature importances are carried over from the model's previous baseline, if any.

:func:`on_edges` re-counts any numeric parts of a window on given edges: explicit-bucket
histograms on the same edges are added exactly, exponential ones projected, and explicit ones on
other edges re-binned by each source bin's representative value (approximate; it only happens
when an app's buckets changed inside the window).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt

from otelml.processor.state.aggregator import PREDICTION_FEATURE, FeatureWindow, SeriesKey
from otelml.stats.baseline import Baseline, FeatureBaseline
from otelml.stats.drift import representative_values
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram

DECILES = tuple(i / 10 for i in range(1, 10))
"""Quantiles that give the edges of a baseline frozen from exponential histograms."""


def _rebin(h: FixedHistogram, edges: npt.NDArray[np.float64]) -> FixedHistogram:
    reps = representative_values(h.edges, ref_min=h.min, ref_max=h.max)
    if math.isfinite(h.min):
        reps = np.clip(reps, h.min, h.max)
    idx = np.searchsorted(edges, reps, side="left")
    counts = np.bincount(idx, weights=h.counts, minlength=edges.size + 1).astype(np.int64)
    return FixedHistogram.from_counts(
        edges,
        counts,
        sum=h.sum,
        min=h.min,
        max=h.max,
        nan_count=h.nan_count,
        posinf_count=h.posinf_count,
        neginf_count=h.neginf_count,
    )


def on_edges(
    parts: Iterable[FixedHistogram | ExponentialHistogram], edges: npt.ArrayLike
) -> FixedHistogram:
    """Return the numeric sketches ``parts`` counted together on ``edges``.

    The result may be one of ``parts`` itself (when it alone is already on ``edges``): treat it
    as read-only.
    """
    e = np.asarray(edges, dtype=np.float64)
    acc: FixedHistogram | None = None
    for part in parts:
        if isinstance(part, FixedHistogram):
            same = part.edges.shape == e.shape and bool(np.all(part.edges == e))
            h = part if same else _rebin(part, e)
        else:
            h = part.project(e)
        acc = h if acc is None else acc.merge(h)
    return FixedHistogram(e) if acc is None else acc


def exponential_quantiles(h: ExponentialHistogram, qs: Iterable[float]) -> list[float]:
    """Return quantiles of an exponential histogram, interpolated linearly inside buckets."""
    base = 2.0 ** (2.0 ** -int(h.scale))
    lo: list[float] = []
    hi: list[float] = []
    cnt: list[float] = []
    n_off, n_counts = h.negative
    for i in range(len(n_counts) - 1, -1, -1):  # most negative first
        idx = n_off + i
        lo.append(-(base ** (idx + 1)))
        hi.append(-(base**idx))
        cnt.append(float(n_counts[i]))
    if h.zero_count:
        lo.append(0.0)
        hi.append(0.0)
        cnt.append(float(h.zero_count))
    p_off, p_counts = h.positive
    for i, c in enumerate(p_counts):
        lo.append(base ** (p_off + i))
        hi.append(base ** (p_off + i + 1))
        cnt.append(float(c))
    counts = np.asarray(cnt)
    total = counts.sum()
    if total <= 0:
        return []
    cum = np.cumsum(counts)
    vmin, vmax = float(h.min), float(h.max)
    out = []
    for q in qs:
        target = q * total
        j = int(np.searchsorted(cum, target, side="left"))
        j = min(j, len(cum) - 1)
        before = cum[j] - counts[j]
        frac = (target - before) / counts[j] if counts[j] > 0 else 0.0
        v = lo[j] + frac * (hi[j] - lo[j])
        if math.isfinite(vmin):
            v = min(max(v, vmin), vmax)
        out.append(float(v))
    return out


def _strictly_increasing(values: Iterable[float]) -> tuple[float, ...]:
    out: list[float] = []
    for v in sorted(values):
        if math.isfinite(v) and (not out or v > out[-1]):
            out.append(v)
    return tuple(out)


def feature_baseline(
    name: str,
    window: FeatureWindow,
    *,
    edges: npt.ArrayLike | None = None,
    importance: float | None = None,
) -> FeatureBaseline:
    """Return the reference statistics of one series' window.

    ``edges`` imposes the bins (rolling baselines reuse the frozen baseline's); otherwise they
    come from the window's own histograms as the module docstring says.
    """
    rows = max(window.rows, 1)
    missing_rate = window.missing / rows
    nan_rate = window.invalid.get("nan", 0) / rows
    inf_rate = window.invalid.get("inf", 0) / rows
    numeric = list(window.numeric_parts())
    n_numeric = sum(p.count for p in numeric)
    cats = window.categories
    if cats is not None and cats.count >= n_numeric and cats.count > 0:
        return FeatureBaseline(
            name=name,
            kind="categorical",
            categories=dict(cats.counts),
            count=window.rows,
            missing_rate=missing_rate,
            importance=importance,
        )
    if edges is None:
        main = numeric[0] if numeric else None
        if isinstance(main, FixedHistogram):
            edges = main.edges
        elif main is not None:
            edges = np.asarray(_strictly_increasing(exponential_quantiles(main, DECILES)))
        else:
            edges = np.zeros(0)
    h = on_edges(numeric, edges)
    counts = h.counts
    mean = h.sum / h.count if h.count else math.nan
    std = math.nan
    if h.count:
        # Open bins at half an inner bin beyond the outer edges: min/max would overweight them.
        reps = representative_values(h.edges)
        std = float(np.sqrt(np.sum(counts * (reps - mean) ** 2) / h.count))
    return FeatureBaseline(
        name=name,
        kind="numeric",
        edges=tuple(h.edges.tolist()),
        ref_counts=tuple(counts.tolist()),
        min=h.min,
        max=h.max,
        mean=mean,
        std=std,
        count=window.rows,
        missing_rate=missing_rate,
        nan_rate=nan_rate,
        inf_rate=inf_rate,
        importance=importance,
    )


def baseline_from_windows(
    model: str,
    version: str,
    windows: Mapping[SeriesKey, FeatureWindow],
    *,
    previous: Baseline | None = None,
    now: float | None = None,
) -> Baseline:
    """Return a baseline of ``model`` ``version`` from merged windows (segment ``""`` only).

    Windows of several environments or versions under the same feature are merged first.
    ``previous`` supplies importances. Raises ``ValueError`` when there is no data.
    """
    merged: dict[str, FeatureWindow] = {}
    for key, w in windows.items():
        if key.model != model or key.segment:
            continue
        cur = merged.get(key.feature)
        merged[key.feature] = w if cur is None else cur.merge(w)
    if not merged:
        raise ValueError(f"no telemetry of model {model!r} in the requested range")
    features: dict[str, FeatureBaseline] = {}
    prediction = None
    for name in sorted(merged):
        imp = None
        if previous is not None and name in previous.features:
            imp = previous.features[name].importance
        fb = feature_baseline(name, merged[name], importance=imp)
        if name == PREDICTION_FEATURE:
            prediction = fb
        else:
            features[name] = fb
    stamp = (
        _dt.datetime.now(_dt.timezone.utc)
        if now is None
        else _dt.datetime.fromtimestamp(now, _dt.timezone.utc)
    )
    return Baseline(
        model=model,
        version=version,
        features=features,
        prediction=prediction,
        created_at=stamp.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
