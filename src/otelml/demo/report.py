"""The demo's HTML report: the offline report's page, filled from the processor's API.

Tables and charts are :mod:`otelml.report`'s (the same page ``otelml report`` writes): the
drift and quality tables from the last evaluation (``GET .../status``), current against
baseline distributions on the baseline's bins (the evaluation window's shares that ``/metrics``
exports as ``otelml_feature_bin_share``), drift over time from the feature history API, plus
the demo's own sections: the story's phases, a status strip, data quality and performance over
time (sampled by the demo as it ran).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from otelml.demo.client import ApiClient, samples
from otelml.demo.report_time import (
    drift_over_time,
    performance_over_time,
    quality_over_time,
    status_strip,
)
from otelml.demo.scenario import (
    DRIFTED,
    MISSING_COLUMN,
    MODEL,
    PHASES,
    VERSION,
)
from otelml.demo.snapshot import (
    PERFORMANCE_METRICS,
    PREDICTION,
    STATUS_ORDER,
    FeatureRow,
    Snapshot,
)
from otelml.report.html import FeatureView, QualityFigures, render_page, table
from otelml.report.svg import esc
from otelml.report.views import feature_chart
from otelml.stats.baseline import Baseline, FeatureBaseline


def current_shares(text: str, model: str, version: str) -> dict[str, dict[str, float]]:
    """Return feature -> bin label -> current share of the last evaluation, from ``/metrics``."""
    out: dict[str, dict[str, float]] = {}
    for name, labels, value in samples(text, "otelml_feature_bin_share"):
        if name != "otelml_feature_bin_share" or labels.get("source") != "current":
            continue
        if labels.get("model") != model or labels.get("version") != version:
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


def _quality(row: FeatureRow, kind: str) -> QualityFigures:
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
    if row.quality_status in ("warning", "alert"):
        # The API gives one quality status per feature: mark the issues that rose.
        fig.statuses = {k: row.quality_status for k, v in q.items() if v >= r.get(k, 0.0) + 0.01}
    return fig


def feature_views(snap: Snapshot, baseline: Baseline, text: str) -> list[FeatureView]:
    """Return one report view per evaluated feature and the prediction, most drifted first."""
    shares = current_shares(text, MODEL, VERSION)
    rows = sorted(snap.features, key=lambda f: (STATUS_ORDER.get(f.status, 9), f.name))
    pairs: list[tuple[FeatureRow, FeatureBaseline | None, str, str]] = [
        (f, baseline.features.get(f.name), f.name, "feature") for f in rows
    ]
    if snap.prediction is not None:
        pairs.append((snap.prediction, baseline.prediction, PREDICTION, "prediction"))
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
                notes=_notes(row),
                quality=None if fb is None else _quality(row, fb.kind),
                chart="" if fb is None else feature_chart(fb, sketch, row.status),
            )
        )
    return views


def _notes(row: FeatureRow) -> list[str]:
    notes = []
    if row.name in DRIFTED:
        notes.append("the story drifts it")
    if row.name == MISSING_COLUMN:
        notes.append("the story empties 40% of it")
    return notes


def performance_table(perf: Any) -> str:
    """Return the final realised / estimated / baseline figures as a table."""
    from otelml.report.html import fmt_num

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


def phases_table(phase_starts: Sequence[float], end: float) -> str:
    """Return the table of the story's phases and when they ran."""
    rows = []
    for i, p in enumerate(PHASES):
        if i < len(phase_starts):
            until = phase_starts[i + 1] if i + 1 < len(phase_starts) else end
            when = f"{phase_starts[i]:.0f}–{until:.0f} s"
        else:
            when = "not reached"
        rows.append(
            [
                f"<td>{i + 1}</td>",
                f"<td>{esc(p.title)}</td>",
                f'<td class="num">{esc(when)}</td>',
                f"<td>{esc(p.detail)}</td>",
            ]
        )
    return (
        '<p class="meta">Phases are cumulative: each change stays once it has happened.</p>'
        + table(["#", "phase", "when", "what changes"], rows)
    )


def build_report(
    *,
    client: ApiClient,
    baseline: Baseline,
    snapshot: Snapshot,
    timeline: Sequence[Mapping[str, Any]],
    phase_starts: Sequence[float],
    started_wall: float,
    info: Mapping[str, str],
    stopped_early: bool = False,
) -> str:
    """Return the report's HTML."""
    from otelml._version import __version__

    views = feature_views(snapshot, baseline, snapshot.metrics_text)
    end = float(timeline[-1]["t"]) if timeline else 0.0
    names = [f.name for f in snapshot.features] + [PREDICTION]
    perf = snapshot.performance
    sections = [
        ("The story", phases_table(phase_starts, end)),
        ("Status over time", status_strip(timeline, phase_starts)),
        ("Drift over time", drift_over_time(client, names, started_wall)),
        ("Data quality over time", quality_over_time(timeline)),
        (
            "Performance",
            performance_table(perf) + performance_over_time(timeline, perf.note),
        ),
    ]
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    meta = (
        f"model {MODEL} · version {VERSION} · scikit-learn breast cancer data · "
        f"last evaluation window {snapshot.window_s:.0f} s · model status {snapshot.status}"
    )
    if stopped_early:
        meta += " · stopped early (Ctrl-C)"
    return render_page(
        f"otelml demo: {MODEL} {VERSION}",
        views,
        meta=meta,
        cards=dict(info),
        extra_sections=sections,
        footer=f"Generated by otelml {__version__} demo at {now.replace('+00:00', 'Z')}.",
    )


def write_report(path: str | Path, **kwargs: Any) -> Path:
    """Write the report (see :func:`build_report`) to ``path`` and return the path."""
    target = Path(path)
    target.write_text(build_report(**kwargs), encoding="utf-8")
    return target
