"""How one window compares with its reference: the sketch on the reference's bins, the kind,
the data-quality rates, and the baseline features that did not arrive (the evaluator's
per-series helpers)."""

from __future__ import annotations

from collections.abc import MutableMapping

from otelml.processor.evaluate import freeze
from otelml.processor.evaluate.results import QUALITY_ISSUES, BinShares, FeatureEvaluation
from otelml.processor.state.aggregator import OVERFLOW, FeatureWindow
from otelml.stats.baseline import Baseline, FeatureBaseline
from otelml.stats.categorical import CategoryCounts
from otelml.stats.histogram import FixedHistogram


def current_sketch(ref: FeatureBaseline, w: FeatureWindow) -> FixedHistogram | CategoryCounts:
    """Return a window's data counted on the reference's bins (numeric) or categories."""
    if ref.kind == "numeric":
        return freeze.on_edges(w.numeric_parts(), ref.edges)
    cats: CategoryCounts = w.categories if w.categories is not None else CategoryCounts()
    return cats


def kind_of(w: FeatureWindow) -> str:
    """Return ``categorical`` when the window holds categories, else ``numeric``."""
    return "categorical" if w.categories is not None and w.categories.count else "numeric"


def quality_rates(
    ref: FeatureBaseline | None,
    w: FeatureWindow,
    sketch: FixedHistogram | CategoryCounts | None,
) -> tuple[dict[str, float], dict[str, float], str]:
    """Return the window's issue rates, the reference's, and the quality status.

    Without a reference only the counted issues (missing, NaN, inf, wrong type) have rates.
    """
    from otelml.stats.quality import quality_report

    nan, inf = w.invalid.get("nan", 0), w.invalid.get("inf", 0)
    mismatch = w.invalid.get("type_mismatch", 0)
    if ref is None or sketch is None:
        rows = w.rows
        q = dict.fromkeys(QUALITY_ISSUES, 0.0)
        if rows > 0:
            q.update(missing=w.missing / rows, nan=nan / rows, inf=inf / rows)
            q["type_mismatch"] = mismatch / rows
        return q, dict.fromkeys(QUALITY_ISSUES, 0.0), "insufficient_data"
    if isinstance(sketch, FixedHistogram) and (nan or inf) and not sketch.nan_count:
        # The apps count NaN / inf apart (ml.feature.invalid), not in the histogram.
        sketch = FixedHistogram.from_counts(
            sketch.edges,
            sketch.counts,
            sum=sketch.sum,
            min=sketch.min,
            max=sketch.max,
            nan_count=nan,
            posinf_count=inf,
        )
    report = quality_report(ref, sketch, missing=w.missing, type_mismatch=mismatch)
    current = dict.fromkeys(QUALITY_ISSUES, 0.0)
    baseline = dict.fromkeys(QUALITY_ISSUES, 0.0)
    for issue, qi in report.issues.items():
        current[issue] = qi.current_rate
        baseline[issue] = qi.baseline_rate
    return current, baseline, report.status


def missing_features(
    baseline: Baseline | None,
    group: MutableMapping[str, tuple[FeatureBaseline | None, FeatureWindow]],
    prediction: FeatureWindow | None,
) -> list[FeatureEvaluation]:
    """Return the baseline's features with no data at all in a window that has data, each as
    issue ``missing_feature`` (status ``warning``, quality ``alert``), and drop their empty
    windows from ``group``.

    A feature renamed or dropped upstream would otherwise vanish from the status unnoticed.
    ``group`` is the totals (segment ``""``) of one model version without its prediction; a
    window with nothing at all (no baseline, or nothing of any series) reports nothing, and so
    does one with features counted under ``__overflow__`` (beyond
    ``limits.max_features_per_model``), where an absent name may be among them.
    """
    overflow = group.get(OVERFLOW)
    if baseline is None or (overflow is not None and not overflow[1].is_empty):
        return []
    windows = [w for _, w in group.values()]
    if prediction is not None:
        windows.append(prediction)
    if all(w.is_empty for w in windows):
        return []
    out = []
    for name in sorted(baseline.features):
        held = group.get(name)
        if held is not None and not held[1].is_empty:
            continue
        group.pop(name, None)
        ref = baseline.features[name]
        quality = dict.fromkeys(QUALITY_ISSUES, 0.0)
        quality["missing_feature"] = 1.0
        out.append(
            FeatureEvaluation(
                feature=name,
                segment="",
                kind=ref.kind,
                status="warning",
                drift=None,
                importance=ref.importance,
                weighted_score=0.0,
                quality=quality,
                reference_quality=dict.fromkeys(QUALITY_ISSUES, 0.0),
                quality_status="alert",
                bins=BinShares(),
                rows=0,
            )
        )
    return out
