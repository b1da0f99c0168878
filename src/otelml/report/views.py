"""From a feature's baseline and a current sketch to what the report shows: chart and quality.

Works on any :class:`~otelml.stats.FixedHistogram` counted on the baseline's edges or any
:class:`~otelml.stats.CategoryCounts`, whether it came from a file (offline report) or from the
processor's windows, so both reports draw the same pictures.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from otelml.report.html import QualityFigures
from otelml.report.svg import STATUS_COLORS, distribution_chart, fmt_value
from otelml.stats.baseline import FeatureBaseline

MAX_CATEGORIES = 20
"""Categories drawn per chart; the rest are pooled into one "(n others)" bar."""


def _shares(counts: Any) -> np.ndarray:
    arr = np.asarray(counts, dtype=np.float64)
    total = arr.sum()
    return arr / total if total > 0 else np.zeros_like(arr)


def bin_labels(edges: tuple[float, ...]) -> list[str]:
    """Return one label per bin of ``edges`` (upper-inclusive): "≤ a", "(a, b]", "> z"."""
    if not edges:
        return ["all values"]
    labels = [f"≤ {fmt_value(edges[0])}"]
    labels += [f"({fmt_value(a)}, {fmt_value(b)}]" for a, b in itertools.pairwise(edges)]
    labels.append(f"> {fmt_value(edges[-1])}")
    return labels


def _category_bars(
    fb: FeatureBaseline, current: dict[str, int], max_categories: int
) -> tuple[list[str], list[int], list[int], list[bool]]:
    known = sorted(fb.categories, key=lambda c: (-fb.categories[c], c))
    new = sorted(set(current) - set(fb.categories), key=lambda c: (-current[c], c))
    # New categories are what a reader looks for first: keep up to a quarter of the bars for
    # them before the rarest known ones.
    n_new = min(len(new), max(max_categories // 4, 1))
    shown = known[: max_categories - n_new] + new[:n_new]
    labels = list(shown)
    ref = [fb.categories.get(c, 0) for c in shown]
    cur = [current.get(c, 0) for c in shown]
    rest = [c for c in [*known, *new] if c not in set(shown)]
    if rest:
        labels.append(f"({len(rest)} others)")
        ref.append(sum(fb.categories.get(c, 0) for c in rest))
        cur.append(sum(current.get(c, 0) for c in rest))
    highlight = [c not in fb.categories for c in shown] + ([False] if rest else [])
    return labels, ref, cur, highlight


def feature_chart(
    fb: FeatureBaseline,
    sketch: Any,
    status: str = "ok",
    *,
    max_categories: int = MAX_CATEGORIES,
    title: str = "",
) -> str:
    """Return the SVG of ``sketch``'s shares against the baseline's, on the baseline's bins.

    ``sketch`` is a FixedHistogram on ``fb.edges`` (numeric) or a CategoryCounts, or None when
    the column was absent (an empty current distribution is drawn). ``title`` is drawn inside
    the chart (the report's sections have their own heading).
    """
    color = STATUS_COLORS.get(status, STATUS_COLORS["ok"])
    label = f"{fb.name}: current vs baseline distribution"
    if fb.kind == "numeric":
        edges = fb.edges
        ref = list(fb.ref_counts) or [0] * (len(edges) + 1)
        cur = np.zeros(len(ref)) if sketch is None else np.asarray(sketch.counts)
        if len(cur) != len(ref):
            raise ValueError(f"{fb.name}: the current histogram is not on the baseline's edges")
        return distribution_chart(
            bin_labels(edges),
            _shares(ref).tolist(),
            _shares(cur).tolist(),
            edges=list(edges),
            title=title,
            label=label,
            color=color,
        )
    current = {} if sketch is None else dict(sketch.counts)
    labels, ref_c, cur_c, highlight = _category_bars(fb, current, max_categories)
    return distribution_chart(
        labels,
        _shares(ref_c).tolist(),
        _shares(cur_c).tolist(),
        title=title,
        label=label,
        color=color,
        highlight=highlight,
    )


def quality_figures(fb: FeatureBaseline, sketch: Any, missing: int, rows: int) -> QualityFigures:
    """Return the current quality shares of one column next to its baseline's, with statuses.

    The rates and statuses are :func:`otelml.stats.quality.quality_report`'s (the processor's),
    so a share is flagged only when it exceeds the baseline's by the policy's margin and
    significantly.
    """
    from otelml.stats.quality import quality_report

    q = QualityFigures(rows=rows, missing=missing / rows if rows else 0.0)
    q.missing_baseline = fb.missing_rate
    if sketch is None:
        return q
    report = quality_report(fb, sketch, missing=missing)
    q.statuses = {name: issue.status for name, issue in report.issues.items()}
    for name, issue in report.issues.items():
        if name == "missing":
            q.missing, q.missing_baseline = issue.current_rate, issue.baseline_rate
        elif name == "nan":
            q.nan, q.nan_baseline = issue.current_rate, issue.baseline_rate
        elif name == "inf":
            q.inf, q.inf_baseline = issue.current_rate, issue.baseline_rate
        elif name == "out_of_range":
            q.out_of_range = issue.current_rate
        elif name == "new_category":
            q.new_categories = issue.current_rate
    return q
