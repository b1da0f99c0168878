"""The demo's HTML report: the offline report's page, filled from the processor's API.

Tables and charts are :mod:`otelml.report`'s (the same page ``otelml report`` writes): the
drift and quality tables from the last evaluation (``GET .../status``), current against
baseline distributions on the baseline's bins (the evaluation window's shares that ``/metrics``
exports as ``otelml_feature_bin_share``), drift over time from the feature history API, plus
the demo's own sections: the story's phases, a status strip, data quality and performance over
time. The processor-backed parts are :mod:`otelml.report.processor`'s, shared with
``otelml report --url``.

Drift over time comes from the processor's feature history API (one point per evaluation);
status, quality and performance over time from the demo's own samples of the status and
performance routes, taken every second while it ran. Time is in seconds since the start of the
traffic.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from otelml.demo.scenario import (
    DRIFTED,
    MISSING_COLUMN,
    MODEL,
    NEW_CATEGORY_COLUMN,
    PHASES,
    VERSION,
)
from otelml.report.client import ApiClient
from otelml.report.history import feature_history, history_charts
from otelml.report.html import FeatureView, render_page, table
from otelml.report.processor import feature_views as _feature_views
from otelml.report.processor import performance_table
from otelml.report.snapshot import PREDICTION, FeatureRow, Snapshot
from otelml.report.svg import STATUS_COLORS, esc, line_chart
from otelml.stats.baseline import Baseline

__all__ = [
    "build_report",
    "drift_over_time",
    "feature_views",
    "performance_over_time",
    "phases_table",
    "quality_over_time",
    "status_strip",
    "write_report",
]


def feature_views(snap: Snapshot, baseline: Baseline, text: str = "") -> list[FeatureView]:
    """Return one report view per evaluated feature and the prediction, most drifted first."""
    if text and not snap.metrics_text:
        snap.metrics_text = text
    return _feature_views(snap, baseline, model=MODEL, version=VERSION, notes=_notes)


def _notes(row: FeatureRow) -> list[str]:
    notes = []
    if row.name in DRIFTED:
        notes.append("the story drifts it")
    if row.name == MISSING_COLUMN:
        notes.append("the story empties 40% of it")
    return notes


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


# -- over time ---------------------------------------------------------------------------------


def drift_over_time(client: ApiClient, features: Sequence[str], t0: float) -> str:
    """Return charts of each feature's effect size over its drift threshold, from history.

    Two charts, what the story drifts and what it leaves alone, so neither has more lines
    than colours.
    """
    series = {}
    for name in features:
        pts = feature_history(client, MODEL, VERSION, name, start=t0)
        # Rounded to 0.1 s so that every feature's point of one evaluation shares an x.
        series["prediction" if name == PREDICTION else name] = {
            round(t - t0, 1): ratio for t, (ratio, _) in pts.items()
        }
    if not any(series.values()):
        return "<p>No evaluations were recorded.</p>"
    moved = [n for n in series if n in DRIFTED or n == "prediction"]
    groups = (
        ("drifted by the story", moved),
        ("left alone by the story", [n for n in series if n not in moved]),
    )
    charts = history_charts(series, [g for g in groups if g[1]], x_format=lambda v: f"{v:.0f} s")
    return (
        '<p class="meta">Effect size ÷ the drift threshold of the feature\'s method '
        "(Wasserstein for numbers, χ² for categories), per evaluation, from "
        "<code>GET .../features/{feature}/history</code>. Above 1 a feature drifts when the "
        "change is also significant. Time in seconds since the start.</p>" + "".join(charts)
    )


def status_strip(timeline: Sequence[Mapping[str, Any]], phase_starts: Sequence[float]) -> str:
    """Return an SVG strip: one row per feature, one cell per refresh, coloured by status."""
    names = sorted({n for s in timeline for n in s["status"]}, key=lambda n: (n == "prediction", n))
    if not names or not timeline:
        return "<p>No evaluations were recorded.</p>"
    left, cell_h, width = 170.0, 18.0, 1000
    right = width - 10.0
    t_end = max(float(timeline[-1]["t"]), 1.0)
    height = int(24 + cell_h * len(names) + 24)

    def px(t: float) -> float:
        return left + (right - left) * t / t_end

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="status per feature over time" font-family="system-ui, sans-serif" '
        'font-size="11">'
    ]
    for i, name in enumerate(names):
        y = 20 + i * cell_h
        out.append(f'<text x="{left - 6}" y="{y + 12:.1f}" text-anchor="end">{esc(name)}</text>')
        for j, s in enumerate(timeline):
            status = s["status"].get(name)
            if status is None:
                continue
            x0 = px(float(s["t"]))
            x1 = px(float(timeline[j + 1]["t"])) if j + 1 < len(timeline) else right
            color = STATUS_COLORS.get(status, "#ccc") if status != "ok" else "#2f9e6e"
            out.append(
                f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 1):.1f}" '
                f'height="{cell_h - 3}" fill="{color}"><title>{esc(name)} at '
                f"{float(s['t']):.0f} s: {esc(status)}</title></rect>"
            )
    bottom = 20 + cell_h * len(names)
    for k, start in enumerate(phase_starts):
        x = px(start)
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="8" y2="{bottom:.1f}" stroke="#1f2933" '
            f'stroke-dasharray="3 3"/><text x="{x + 3:.1f}" y="{bottom + 14:.1f}" '
            f'fill="#52606d">{k + 1}. {esc(PHASES[min(k, len(PHASES) - 1)].title)}</text>'
        )
    out.append("</svg>")
    return (
        '<p class="meta">Sampled every second by the demo from <code>GET .../status</code>; '
        "green ok, amber warning, red drift, grey no data. Dashed lines: phase starts.</p>"
        + "".join(out)
    )


def _over_time(
    timeline: Sequence[Mapping[str, Any]], get: Any, names: Sequence[str], title: str
) -> str:
    xs = [float(s["t"]) for s in timeline]
    series = {}
    for name in names:
        ys = [get(s, name) for s in timeline]
        ys = [math.nan if v is None else float(v) for v in ys]
        if any(math.isfinite(v) for v in ys):
            series[name] = ys
    if not series or len(xs) < 2:
        return ""
    return line_chart(
        xs, series, title=title, x_format=lambda v: f"{v:.0f} s", width=1000, height=260
    )


def quality_over_time(timeline: Sequence[Mapping[str, Any]]) -> str:
    """Return the chart of the missing and new-category shares over time."""

    def get(s: Mapping[str, Any], name: str) -> float | None:
        feature, issue = name.split(" ", 1)
        value = s["quality"].get(feature, {}).get(issue.replace("new category", "new_category"))
        return None if value is None else float(value)

    return _over_time(
        timeline,
        get,
        [f"{MISSING_COLUMN} missing", f"{NEW_CATEGORY_COLUMN} new category"],
        "share of rows in the drift window",
    )


def performance_over_time(timeline: Sequence[Mapping[str, Any]], note: str) -> str:
    """Return the chart of realised and estimated accuracy and label coverage over time."""

    def get(s: Mapping[str, Any], name: str) -> float | None:
        if name == "label coverage":
            value = s["coverage"]
        else:
            which, metric = name.split(" ", 1)
            value = s[which].get(metric)
        return None if value is None else float(value)

    names = ["realised accuracy", "estimated accuracy", "realised roc_auc", "label coverage"]
    chart = _over_time(timeline, get, names, "realised vs estimated (CBPE) performance")
    return chart or f"<p>Performance: {esc(note or 'no figures were recorded')}.</p>"


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
