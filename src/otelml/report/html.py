"""The report page: one self-contained HTML document built from a few reusable parts.

A report is a :class:`FeatureView` per column (drift figures, quality figures and a chart)
plus a header; :func:`render_page` lays them out as summary cards, the drift table, the quality
table and one section per feature, in the order given (the caller ranks them). A time-range
report from the processor's state builds the same views from its windows and adds its own
sections (drift over time, :func:`otelml.report.svg.line_chart`) through ``extra_sections``.

The page loads nothing: CSS is inline and a Content-Security-Policy forbids every network
fetch and every script, so opening it offline shows exactly what was written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from otelml.report.svg import esc

STATUSES = ("drift", "warning", "insufficient_data", "ok")
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root { --fg:#1f2933; --muted:#52606d; --line:#e4e7eb; --bg:#f5f7fa; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color:var(--fg); background:var(--bg); }
main { max-width:1100px; margin:0 auto; padding:24px 20px 48px; }
h1 { font-size:22px; margin:0 0 4px; } h2 { font-size:17px; margin:28px 0 10px; }
.meta { color:var(--muted); margin:0 0 16px; }
.cards { display:flex; gap:12px; flex-wrap:wrap; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 16px;
  min-width:130px; }
.card b { display:block; font-size:22px; }
.card span { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line); }
th, td { padding:5px 9px; border-bottom:1px solid var(--line); text-align:left;
  vertical-align:top; }
th { background:#eef1f5; font-weight:600; font-size:12px; color:var(--muted); }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.bad { color:#b42318; font-weight:600; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px;
  font-weight:600; color:#fff; white-space:nowrap; }
.badge.drift { background:#d64545; } .badge.warning { background:#e09b2d; }
.badge.ok { background:#2f9e6e; } .badge.insufficient_data { background:#7b8794; }
.features { display:grid; grid-template-columns:repeat(auto-fill, minmax(520px, 1fr));
  gap:14px; }
section.feature { background:#fff; border:1px solid var(--line); border-radius:8px;
  padding:10px 12px; overflow-x:auto; }
section.feature h3 { margin:0 0 4px; font-size:15px; overflow-wrap:anywhere; }
section.feature p { margin:2px 0 6px; color:var(--muted); font-size:12px; }
svg.chart { display:block; max-width:100%; height:auto; }
a { color:#245ea8; text-decoration:none; } a:hover { text-decoration:underline; }
footer { margin-top:32px; color:var(--muted); font-size:12px; }
"""


def fmt_num(x: float | None) -> str:
    """Return a table figure: 3 significant digits, scientific below 0.001, "–" for None."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.1e}"
    return f"{x:.3g}"


def fmt_pct(x: float | None) -> str:
    """Return a share as a percentage with one decimal ("–" for None)."""
    return "–" if x is None else f"{100 * x:.1f}%"


def badge(status: str) -> str:
    """Return the coloured status label."""
    text = status.replace("_", " ")
    return f'<span class="badge {esc(status)}">{esc(text)}</span>'


@dataclass
class QualityFigures:
    """Data-quality shares of one column, current against baseline (None: not applicable)."""

    rows: int
    missing: float
    missing_baseline: float = 0.0
    nan: float | None = None
    nan_baseline: float | None = None
    inf: float | None = None
    inf_baseline: float | None = None
    out_of_range: float | None = None
    new_categories: float | None = None
    statuses: dict[str, str] = field(default_factory=dict)
    """Issue (missing, nan, inf, out_of_range, new_category) -> ok | warning | alert | ..."""


@dataclass
class FeatureView:
    """Everything the page shows about one column."""

    name: str
    kind: str
    status: str
    role: str = "feature"
    method: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    effect_size: float | None = None
    importance: float | None = None
    notes: list[str] = field(default_factory=list)
    quality: QualityFigures | None = None
    chart: str = ""
    """Inline SVG (trusted markup built by :mod:`otelml.report.svg`)."""

    @property
    def label(self) -> str:
        """Return the display name (the prediction column is marked)."""
        return self.name + (" (prediction)" if self.role == "prediction" else "")


def table(header: Sequence[str], rows: Sequence[Sequence[str]], css_class: str = "") -> str:
    """Return an HTML table; ``header`` is escaped, ``rows`` cells are trusted ``<td>`` markup."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    cls = f' class="{esc(css_class)}"' if css_class else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(text: str, *, num: bool = False, bad: bool = False) -> str:
    classes = " ".join(c for c, on in (("num", num), ("bad", bad)) if on)
    return f'<td class="{classes}">{text}</td>' if classes else f"<td>{text}</td>"


def summary_cards(views: Sequence[FeatureView], extra: Mapping[str, str] | None = None) -> str:
    """Return the cards row: columns per status, plus ``extra`` label -> value cards."""
    counts = {s: sum(v.status == s for v in views) for s in STATUSES}
    cards = [(str(len(views)), "columns compared")]
    cards += [(str(counts[s]), s.replace("_", " ")) for s in STATUSES]
    cards += [(value, label) for label, value in (extra or {}).items()]
    inner = "".join(
        f'<div class="card"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for v, k in cards
    )
    return f'<div class="cards">{inner}</div>'


def drift_table(views: Sequence[FeatureView]) -> str:
    """Return the ranked drift table; each feature links to its chart section."""
    header = ["feature", "kind", "method", "statistic", "p-value", "effect", "status", "notes"]
    rows = [
        [
            f'<td><a href="#f{i}">{esc(v.label)}</a></td>',
            _td(esc(v.kind)),
            _td(esc(v.method or "–")),
            _td(fmt_num(v.statistic), num=True),
            _td(fmt_num(v.p_value), num=True),
            _td(fmt_num(v.effect_size), num=True),
            _td(badge(v.status)),
            _td(esc("; ".join(v.notes))),
        ]
        for i, v in enumerate(views)
    ]
    return table(header, rows, "drift")


def _pair(cur: float | None, base: float | None, status: str | None) -> str:
    if cur is None:
        return _td("–", num=True)
    text = fmt_pct(cur) if base is None else f"{fmt_pct(cur)} <small>({fmt_pct(base)})</small>"
    return _td(text, num=True, bad=status in ("warning", "alert"))


def quality_table(views: Sequence[FeatureView]) -> str:
    """Return the data-quality table: current shares with the baseline's in brackets."""
    header = ["feature", "rows", "missing", "NaN", "±inf", "outside range", "new categories"]
    rows = []
    for i, v in enumerate(views):
        q = v.quality
        if q is None:
            continue
        st = q.statuses
        rows.append(
            [
                f'<td><a href="#f{i}">{esc(v.label)}</a></td>',
                _td(f"{q.rows:,}", num=True),
                _pair(q.missing, q.missing_baseline, st.get("missing")),
                _pair(q.nan, q.nan_baseline, st.get("nan")),
                _pair(q.inf, q.inf_baseline, st.get("inf")),
                _pair(q.out_of_range, None, st.get("out_of_range")),
                _pair(q.new_categories, None, st.get("new_category")),
            ]
        )
    return table(header, rows, "quality")


def feature_sections(views: Sequence[FeatureView]) -> str:
    """Return one card per feature with its figures and chart, in the order of ``views``."""
    parts = []
    for i, v in enumerate(views):
        figures = f"{esc(v.kind)} · {esc(v.method or 'no method')}"
        if v.statistic is not None:
            figures += f" · statistic {fmt_num(v.statistic)} · effect {fmt_num(v.effect_size)}"
        if v.p_value is not None:
            figures += f" · p {fmt_num(v.p_value)}"
        if v.importance is not None:
            figures += f" · importance {fmt_num(v.importance)}"
        parts.append(
            f'<section class="feature" id="f{i}"><h3>{esc(v.label)} {badge(v.status)}</h3>'
            f"<p>{figures}</p>{v.chart}</section>"
        )
    return f'<div class="features">{"".join(parts)}</div>'


def render_page(
    title: str,
    views: Sequence[FeatureView],
    *,
    meta: str = "",
    cards: Mapping[str, str] | None = None,
    extra_sections: Sequence[tuple[str, str]] = (),
    footer: str = "",
) -> str:
    """Return the whole HTML document.

    ``meta`` and ``footer`` are plain text (escaped); ``extra_sections`` are ``(heading,
    trusted markup)`` pairs placed after the tables.
    """
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">{esc(meta)}</p>' if meta else "",
        summary_cards(views, cards),
        "<h2>Drift</h2>",
        drift_table(views),
        "<h2>Data quality</h2>",
        '<p class="meta">Current share of rows, baseline share in brackets; red: above the '
        "baseline by the quality policy's margin, significantly (see docs/drift.md).</p>",
        quality_table(views),
    ]
    body += [f"<h2>{esc(h)}</h2>{markup}" for h, markup in extra_sections]
    body += [
        "<h2>Distributions on the baseline's bins</h2>",
        '<p class="meta">Grey: baseline share per bin; colour: current share (blue ok, amber '
        "warning, red drift). Numeric bins are the baseline's quantile bins, upper edge "
        "included; categories marked * are new.</p>",
        feature_sections(views),
    ]
    if footer:
        body.append(f"<footer>{esc(footer)}</footer>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )
