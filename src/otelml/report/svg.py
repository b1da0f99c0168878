"""Inline SVG charts built as strings: distributions on a baseline's bins, and lines over time.

No plotting library: the report must open offline and otelml adds no dependency for it. Every
label that can come from user data (feature names, categories) goes through :func:`esc`; every
bar and point carries a ``<title>`` with its exact figures, which browsers show on hover
without any script.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence

BASELINE_COLOR = "#9aa5b1"
STATUS_COLORS: Mapping[str, str] = {
    "drift": "#d64545",
    "warning": "#e09b2d",
    "ok": "#3a7bc8",
    "insufficient_data": "#7b8794",
}
"""Colour of the current bars by drift status."""
SERIES_COLORS = ("#3a7bc8", "#d64545", "#2f9e6e", "#e09b2d", "#7c5cc4", "#5f6b7a")

_FONT = 'font-family="system-ui, sans-serif"'


def esc(text: object) -> str:
    """Return ``text`` safe inside HTML/SVG text and double-quoted attributes."""
    return html.escape(str(text), quote=True)


def fmt_value(x: float) -> str:
    """Return a short axis label for ``x``: 3 significant digits, k/M/G suffixes."""
    if not math.isfinite(x):
        return str(x)
    ax = abs(x)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if ax >= div:
            return f"{x / div:.3g}{suffix}"
    if ax and ax < 1e-3:
        return f"{x:.1e}"
    return f"{x:.3g}"


def _truncate(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _nice_max(x: float) -> float:
    """Return a round number >= ``x`` (1, 2, 2.5, 5 times a power of ten) for an axis top."""
    if x <= 0 or not math.isfinite(x):
        return 1.0
    power = 10.0 ** math.floor(math.log10(x))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= x * (1 - 1e-12):
            return step * power
    return 10.0 * power


def _svg_open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(label)}" {_FONT} font-size="11">'
    )


def _legend(items: Sequence[tuple[str, str]], right: float, y: float) -> list[str]:
    out = []
    x = right
    for name, color in reversed(items):
        x -= 8 + 6.5 * len(name) + 18
        out.append(
            f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14:.1f}" y="{y:.1f}" fill="#334">{esc(name)}</text>'
        )
    return out


def _y_axis(top: float, bottom: float, left: float, right: float, ymax: float) -> list[str]:
    out = []
    for i in range(5):
        v = ymax * i / 4
        y = bottom - (bottom - top) * i / 4
        out.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e7eb"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#52606d">'
            f"{100 * v:.3g}%</text>"
        )
    return out


def distribution_chart(
    labels: Sequence[str],
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    edges: Sequence[float] | None = None,
    title: str = "",
    label: str | None = None,
    color: str = STATUS_COLORS["ok"],
    highlight: Sequence[bool] | None = None,
    width: int = 640,
    height: int = 250,
) -> str:
    """Return an SVG of baseline vs current shares per bin or category, as paired bars.

    Parameters
    ----------
    labels
        One name per bin (shown in tooltips; on the axis for categories).
    baseline, current
        Shares (0..1) per bin, same length as ``labels``.
    edges
        Numeric bins: the ``len(labels) - 1`` inner edges, written on the bin boundaries
        instead of the labels under the bars.
    title, label
        A heading drawn in the chart; the accessible name (default: ``title``).
    highlight
        Per bin, True to mark its label (a category the baseline never saw).
    """
    n = len(labels)
    if len(baseline) != n or len(current) != n:
        raise ValueError("labels, baseline and current must have the same length")
    if edges is not None and len(edges) != max(n - 1, 0):
        raise ValueError(f"edges must have len(labels) - 1 = {n - 1} entries, got {len(edges)}")
    left, right, top = 52.0, width - 10.0, 26.0
    rotate = edges is None and n > 0 and (right - left) / n < 70
    bottom = height - (70.0 if rotate else 34.0)
    out = [_svg_open(width, height, label or title or "distribution")]
    if title:
        out.append(f'<text x="{left}" y="14" font-weight="600" fill="#1f2933">{esc(title)}</text>')
    out += _legend([("baseline", BASELINE_COLOR), ("current", color)], right, 14)
    ymax = _nice_max(max([*baseline, *current, 0.0]))
    out += _y_axis(top, bottom, left, right, ymax)
    slot = (right - left) / max(n, 1)
    bar = max(min(slot * 0.38, 40.0), 1.0)
    scale = (bottom - top) / ymax
    for i in range(n):
        x0 = left + i * slot + slot / 2 - bar
        for j, (share, fill) in enumerate(((baseline[i], BASELINE_COLOR), (current[i], color))):
            h = max(share, 0.0) * scale
            who = "baseline" if j == 0 else "current"
            out.append(
                f'<rect class="bar {who}" x="{x0 + j * bar:.1f}" y="{bottom - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}" fill="{fill}">'
                f"<title>{esc(labels[i])}: {who} {100 * share:.2f}%</title></rect>"
            )
        if edges is None:
            mark = highlight is not None and highlight[i]
            cx, cy = left + (i + 0.5) * slot, bottom + 13
            fill = "#d64545" if mark else "#52606d"
            text = esc(_truncate(labels[i], 16) + (" *" if mark else ""))
            anchor = 'text-anchor="end"' if rotate else 'text-anchor="middle"'
            turn = f' transform="rotate(-35 {cx:.1f} {cy:.1f})"' if rotate else ""
            out.append(
                f'<text x="{cx:.1f}" y="{cy:.1f}" {anchor} fill="{fill}"{turn}>{text}'
                f"<title>{esc(labels[i])}</title></text>"
            )
    if edges is not None:
        crowded = slot < 42
        for i, e in enumerate(edges):
            cx, cy = left + (i + 1) * slot, bottom + 13
            turn = f' transform="rotate(-35 {cx:.1f} {cy:.1f})"' if crowded else ""
            anchor = "end" if crowded else "middle"
            out.append(
                f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{bottom}" y2="{bottom + 4}" '
                f'stroke="#7b8794"/><text x="{cx:.1f}" y="{cy:.1f}" text-anchor="{anchor}" '
                f'fill="#52606d"{turn}>{esc(fmt_value(e))}</text>'
            )
    out.append(f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#7b8794"/>')
    out.append("</svg>")
    return "".join(out)


def line_chart(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    x_format: Callable[[float], str] = fmt_value,
    y_format: Callable[[float], str] = fmt_value,
    thresholds: Mapping[str, float] | None = None,
    width: int = 640,
    height: int = 220,
) -> str:
    """Return an SVG line chart of several series over shared ``x`` values (e.g. drift by window).

    NaN values break a line. ``thresholds`` draws labelled dashed horizontal lines (e.g. the
    warning and drift levels of a statistic).
    """
    for name, ys in series.items():
        if len(ys) != len(x):
            raise ValueError(f"series {name!r} has {len(ys)} values for {len(x)} x values")
    left, right, top, bottom = 56.0, width - 10.0, 26.0, height - 30.0
    out = [_svg_open(width, height, title or "line chart")]
    if title:
        out.append(f'<text x="{left}" y="14" font-weight="600" fill="#1f2933">{esc(title)}</text>')
    colors = {name: SERIES_COLORS[i % len(SERIES_COLORS)] for i, name in enumerate(series)}
    out += _legend(list(colors.items()), right, 14)
    finite = [v for ys in series.values() for v in ys if math.isfinite(v)]
    finite += list((thresholds or {}).values())
    y_lo = min([*finite, 0.0])
    y_hi = max([*finite, 0.0])
    y_hi = y_lo + _nice_max(y_hi - y_lo) if y_hi > y_lo else y_lo + 1.0
    x_lo, x_hi = (min(x), max(x)) if len(x) else (0.0, 1.0)
    x_span = (x_hi - x_lo) or 1.0

    def px(v: float) -> float:
        return left + (v - x_lo) / x_span * (right - left)

    def py(v: float) -> float:
        return bottom - (v - y_lo) / (y_hi - y_lo) * (bottom - top)

    for i in range(5):
        v = y_lo + (y_hi - y_lo) * i / 4
        out.append(
            f'<line x1="{left}" x2="{right}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#e4e7eb"/>'
            f'<text x="{left - 4}" y="{py(v) + 4:.1f}" text-anchor="end" fill="#52606d">'
            f"{esc(y_format(v))}</text>"
        )
    for i in range(5 if len(x) > 1 else len(x)):
        v = x_lo + x_span * i / 4
        out.append(
            f'<text x="{px(v):.1f}" y="{bottom + 16}" text-anchor="middle" fill="#52606d">'
            f"{esc(x_format(v))}</text>"
        )
    for name, level in (thresholds or {}).items():
        out.append(
            f'<line x1="{left}" x2="{right}" y1="{py(level):.1f}" y2="{py(level):.1f}" '
            f'stroke="#d64545" stroke-dasharray="4 3"/><text x="{right - 2}" '
            f'y="{py(level) - 3:.1f}" text-anchor="end" fill="#d64545">{esc(name)}</text>'
        )
    for name, ys in series.items():
        runs: list[list[str]] = [[]]
        for xv, yv in zip(x, ys, strict=True):
            if math.isfinite(yv):
                runs[-1].append(f"{px(xv):.1f},{py(yv):.1f}")
            elif runs[-1]:
                runs.append([])
        for run in runs:
            if run:
                out.append(
                    f'<polyline class="series" fill="none" stroke="{colors[name]}" '
                    f'stroke-width="2" points="{" ".join(run)}"><title>{esc(name)}</title>'
                    "</polyline>"
                )
    out.append(f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#7b8794"/>')
    out.append("</svg>")
    return "".join(out)
