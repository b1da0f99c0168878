"""Drift over time from the processor's feature history API: one point per evaluation.

Each feature's effect size is divided by its method's drift threshold, so numeric
(Wasserstein) and categorical (χ²) features share one axis: above 1 a feature drifts when the
change is also significant. Used by ``otelml report --url`` and by the demo's report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from otelml.report.client import ApiClient
from otelml.report.svg import SERIES_COLORS, esc, line_chart

THRESHOLD_LINES = {"drift": 1.0, "warning": 0.5}
"""The y levels drawn on every chart (the default policy warns at half the drift threshold)."""


def drift_threshold(method: str | None) -> float:
    """Return the effect size at which ``method`` calls drift (the default policy's)."""
    from otelml.stats.decision import DEFAULT_THRESHOLDS

    return DEFAULT_THRESHOLDS.get(method or "", (0.1, 0.2))[1]


def feature_history(
    client: ApiClient,
    model: str,
    version: str,
    feature: str,
    start: float = -math.inf,
    end: float = math.inf,
) -> dict[float, tuple[float, str]]:
    """Return evaluation time -> (effect size ÷ drift threshold, status) within [start, end].

    The ratio is NaN when an evaluation had too few rows for a decision (its effect size is
    noise, so charts leave a gap). A feature without history gives ``{}``.
    """
    answer = client.history(model, version, feature)
    if not answer.ok or not isinstance(answer.body, dict):
        return {}
    out: dict[float, tuple[float, str]] = {}
    for p in answer.body.get("points") or []:
        t = float(p["time"])
        if not start <= t <= end:
            continue
        eff = p.get("effect_size")
        status = str(p.get("status") or "insufficient_data")
        undecided = eff is None or status == "insufficient_data"
        ratio = math.nan if undecided else float(eff) / drift_threshold(p.get("method"))
        out[t] = (ratio, status)
    return out


def history_charts(
    series: Mapping[str, Mapping[float, float]],
    groups: Sequence[tuple[str, Sequence[str]]],
    *,
    x_format: Callable[[float], str],
    shift: float = 0.0,
) -> list[str]:
    """Return one line chart per ``(title, names)`` group, split so no chart repeats a colour.

    ``series`` maps a name to time -> ratio; x values are ``time - shift``.
    """
    xs_abs = sorted({t for pts in series.values() for t in pts})
    xs = [t - shift for t in xs_abs]
    charts = []
    per = len(SERIES_COLORS)
    for title, names in groups:
        names = [n for n in names if n in series]
        for i in range(0, len(names), per):
            chunk = names[i : i + per]
            part = f" ({i // per + 1})" if len(names) > per else ""
            charts.append(
                line_chart(
                    xs,
                    {n: [series[n].get(t, math.nan) for t in xs_abs] for n in chunk},
                    title=title + part,
                    x_format=x_format,
                    thresholds=THRESHOLD_LINES,
                    width=1000,
                    height=260,
                )
            )
    return charts


def status_table(
    history: Mapping[str, Mapping[float, tuple[float, str]]], fmt_time: Callable[[float], str]
) -> str:
    """Return a table: per feature, evaluations in range, how many drifted, first drift time."""
    from otelml.report.html import badge, table

    summary = []
    for name, pts in history.items():
        times = sorted(pts)
        drifted = [t for t in times if pts[t][1] == "drift"]
        last = pts[times[-1]][1] if times else "insufficient_data"
        summary.append((name, len(times), drifted, last))
    summary.sort(key=lambda s: (-len(s[2]), s[0]))
    rows = [
        [
            f"<td>{esc(name)}</td>",
            f'<td class="num">{n}</td>',
            f'<td class="num">{len(drifted)}</td>',
            f"<td>{esc(fmt_time(drifted[0])) if drifted else '–'}</td>",
            f"<td>{badge(last)}</td>",
        ]
        for name, n, drifted, last in summary
    ]
    return table(["feature", "evaluations", "drift", "first drift", "last status"], rows, "history")
