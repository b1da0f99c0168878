"""The report page filled from a running processor: its API and ``/metrics``, never its objects.

The drift and quality tables come from the last evaluation (``GET .../status``); the current
against baseline distributions from the shares of that evaluation's window which ``/metrics``
exports as ``otelml_feature_bin_share`` (on the baseline's own bins); the performance from
``GET .../performance``. ``otelml report --url`` (:mod:`otelml.report.remote`) and the demo's
report both build their pages from these parts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from otelml.report.client import samples
from otelml.report.html import FeatureView, QualityFigures, fmt_num, table
from otelml.report.snapshot import (
    PERFORMANCE_METRICS,
    PREDICTION,
    STATUS_ORDER,
    FeatureRow,
    Performance,
    Snapshot,
)
from otelml.report.svg import esc
from otelml.report.views import feature_chart
from otelml.stats.baseline import Baseline, FeatureBaseline

_ISSUES = {
    "missing": "missing",
    "nan": "NaN",
    "inf": "±inf",
    "type_mismatch": "wrong type",
    "out_of_range": "outside the baseline range",
    "new_category": "new categories",
}


def current_shares(
    text: str, model: str, version: str, environment: str | None = None
) -> dict[str, dict[str, float]]:
    """Return feature -> bin label -> current share of the last evaluation, from ``/metrics``.

    Only the all-rows series (segment ""); ``environment`` None takes every environment.
    """
    out: dict[str, dict[str, float]] = {}
    for name, labels, value in samples(text, "otelml_feature_bin_share"):
        if name != "otelml_feature_bin_share" or labels.get("source") != "current":
            continue
        if labels.get("model") != model or labels.get("version") != version:
            continue
        if environment and labels.get("environment", environment) != environment:
            continue
        if labels.get("segment", "") != "":
            continue
        out.setdefault(labels.get("feature", ""), {})[labels.get("bin", "")] = value
    return out


def sketch_from_shares(fb: FeatureBaseline, shares: Mapping[str, float], n: int) -> Any:
    """Return a sketch on ``fb``'s bins holding ``n`` values split as ``shares``."""
    from otelml.stats.categorical import CategoryCounts
    from otelml.stats.histogram import FixedHistogram

    if fb.kind == "numeric":
        counts = [round(shares.get(str(i), 0.0) * n) for i in range(len(fb.edges) + 1)]
        return FixedHistogram.from_counts(list(fb.edges), counts)
    cats = CategoryCounts()
    cats.update_counts({c: round(s * n) for c, s in shares.items() if s > 0})
    return cats


def _rose(row: FeatureRow) -> dict[str, float]:
    """Return the quality issues whose share rose above the baseline's (when flagged)."""
    if row.quality_status not in ("warning", "alert"):
        return {}
    ref = row.reference_quality
    return {k: v for k, v in row.quality.items() if v >= ref.get(k, 0.0) + 0.01}


def row_quality(row: FeatureRow, kind: str) -> QualityFigures:
    """Return the report's quality figures of one status-API row."""
    q, r = row.quality, row.reference_quality
    fig = QualityFigures(
        rows=row.rows,
        missing=q.get("missing", 0.0),
        missing_baseline=r.get("missing", 0.0),
        nan=q.get("nan"),
        nan_baseline=r.get("nan"),
        inf=q.get("inf"),
        inf_baseline=r.get("inf"),
        out_of_range=q.get("out_of_range") if kind == "numeric" else None,
        new_categories=q.get("new_category") if kind == "categorical" else None,
    )
    # The API gives one quality status per feature: mark the issues that rose.
    fig.statuses = dict.fromkeys(_rose(row), row.quality_status)
    return fig


def quality_notes(row: FeatureRow) -> list[str]:
    """Return one note per quality issue that rose above the baseline (as ``otelml drift``)."""
    ref = row.reference_quality
    notes = []
    for issue, share in _rose(row).items():
        text = f"{_ISSUES.get(issue, issue)} {100 * share:.1f}%"
        if ref.get(issue):
            text += f" (baseline {100 * ref[issue]:.1f}%)"
        notes.append(text)
    return notes


def feature_views(
    snap: Snapshot,
    baseline: Baseline | None,
    *,
    model: str,
    version: str,
    notes: Callable[[FeatureRow], list[str]] = quality_notes,
) -> list[FeatureView]:
    """Return one report view per evaluated feature and the prediction, most drifted first."""
    shares = current_shares(snap.metrics_text, model, version, snap.environment or None)
    rows = sorted(snap.features, key=lambda f: (STATUS_ORDER.get(f.status, 9), f.name))
    features = {} if baseline is None else baseline.features
    pairs: list[tuple[FeatureRow, FeatureBaseline | None, str, str]] = [
        (f, features.get(f.name), f.name, "feature") for f in rows
    ]
    if snap.prediction is not None:
        pred = None if baseline is None else baseline.prediction
        pairs.append((snap.prediction, pred, PREDICTION, "prediction"))
    views = []
    for row, fb, key, role in pairs:
        sketch = None
        if fb is not None and key in shares:
            sketch = sketch_from_shares(fb, shares[key], row.n_current)
        views.append(
            FeatureView(
                name="prediction (score)" if role == "prediction" else row.name,
                kind=row.kind,
                status=row.status,
                method=row.method,
                statistic=row.statistic,
                p_value=row.p_value,
                effect_size=row.effect_size,
                importance=row.importance,
                notes=notes(row),
                quality=None if fb is None else row_quality(row, fb.kind),
                chart="" if fb is None else feature_chart(fb, sketch, row.status),
            )
        )
    return views


def performance_table(perf: Performance) -> str:
    """Return the last window's realised / estimated / baseline figures as a table."""
    metrics = [m for m in PERFORMANCE_METRICS if m in perf.realised or m in perf.estimated]
    if not metrics:
        return ""
    rows = [
        [
            f"<td>{esc(m)}</td>",
            f'<td class="num">{fmt_num(perf.realised.get(m))}</td>',
            f'<td class="num">{fmt_num(perf.estimated.get(m))}</td>',
            f'<td class="num">{fmt_num(perf.baseline.get(m))}</td>',
            f"<td>{'realised left the estimate' + chr(39) + 's band' if m in perf.diverged else ''}"
            "</td>",
        ]
        for m in metrics
    ]
    cov = "" if perf.coverage is None else f"label coverage {100 * perf.coverage:.0f}% "
    cov += f"({perf.labeled:,} of {perf.predictions:,} predictions in the window)"
    return (
        f'<p class="meta">Last performance window: {esc(cov)}; status '
        f"{esc(perf.status or '–')}.</p>"
        + table(["metric", "realised", "estimated (CBPE)", "baseline", "divergence"], rows)
    )
