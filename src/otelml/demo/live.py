"""Showing the demo as it happens: a live terminal view, or plain log lines.

The live view redraws one frame in place every refresh with plain ANSI escapes (cursor up,
clear to end of screen; no dependency), cut to the terminal's width and height so a frame
never wraps or scrolls (which would break the redraw). ``--no-live``, a stdout that is not a
terminal, or ``TERM=dumb`` give plain log lines instead: phase changes as they happen, one
status line every few seconds, for logs and CI. ``NO_COLOR`` turns colours off.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from otelml.demo.scenario import PHASES
from otelml.report.snapshot import PERFORMANCE_METRICS, STATUS_ORDER, FeatureRow, Snapshot

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_COLORS = {
    "drift": "1;31",
    "alert": "1;31",
    "warning": "33",
    "ok": "32",
    "insufficient_data": "2",
    "dim": "2",
    "bold": "1",
}


@dataclass
class Progress:
    """Where the run is: time, phase, traffic, endpoints."""

    elapsed_s: float
    duration_s: float
    phase: int
    predictions: int
    speed: float
    labels_sent: int
    labels_pending: int
    labels_never: int
    metrics_url: str
    otlp_grpc: str
    report_path: str
    stopping: bool = False


class Style:
    """ANSI colours, or none."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, what: str) -> str:
        """Return ``text`` coloured as ``what`` (a status, "dim" or "bold")."""
        code = _COLORS.get(what)
        if not self.color or code is None:
            return text
        return f"\x1b[{code}m{text}\x1b[0m"


def use_color(stream: TextIO) -> bool:
    """Return whether to colour ``stream``: a terminal, and ``NO_COLOR`` unset."""
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def can_go_live(stream: TextIO) -> bool:
    """Return whether ``stream`` can take an in-place redrawn view."""
    return stream.isatty() and os.environ.get("TERM", "") not in ("", "dumb")


def fmt_num(x: float | None) -> str:
    """Return a figure with 3 significant digits ("–" when absent)."""
    if x is None:
        return "–"
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.0e}"
    return f"{x:.3g}"


def fmt_p(p: float | None) -> str:
    """Return a p-value: 3 decimals, or a power of ten below 0.001."""
    if p is None:
        return "–"
    if p < 1e-15:
        return "<1e-15"
    return f"{p:.0e}" if p < 1e-3 else f"{p:.3f}"


def fmt_pct(x: float | None) -> str:
    """Return a share as a percentage ("–" when absent)."""
    return "–" if x is None else f"{100 * x:.0f}%" if x >= 0.1 else f"{100 * x:.1f}%"


def clock(seconds: float) -> str:
    """Return ``m:ss``."""
    s = max(int(seconds), 0)
    return f"{s // 60}:{s % 60:02d}"


def _status_word(style: Style, status: str, width: int = 0) -> str:
    text = {"insufficient_data": "no data"}.get(status, status)
    shown = text.upper() if status in ("drift", "degraded") else text
    return style(shown.ljust(width), "alert" if status == "degraded" else status)


def feature_line(style: Style, f: FeatureRow, compact: bool = False) -> str:
    """Return one row of the drift table (``compact``: without method and importance)."""
    kind = "cat" if f.kind == "categorical" else "num" if f.kind == "numeric" else f.kind
    q = f.quality
    new_cat = fmt_pct(q.get("new_category")) if f.kind == "categorical" else "–"
    quality = style(f.quality_status.replace("insufficient_data", "–"), f.quality_status)
    method = "" if compact else f"{(f.method or '–')[:11]:<11} "
    importance = "" if compact else f"{fmt_num(f.importance):>6} "
    return (
        f"  {f.name[:20]:<20} {kind:<4} {_status_word(style, f.status, 8)} {method}"
        f"{fmt_num(f.statistic):>9} {fmt_p(f.p_value):>7} {importance}"
        f"{fmt_pct(q.get('missing')):>7} {new_cat:>7}  {quality}"
    )


def drift_header(compact: bool = False) -> str:
    """Return the header of the drift table."""
    method = "" if compact else f"{'method':<11} "
    importance = "" if compact else f"{'import.':>6} "
    return (
        f"  {'feature':<20} {'kind':<4} {'status':<8} {method}{'statistic':>9} "
        f"{'p-value':>7} {importance}{'missing':>7} {'new cat':>7}  quality"
    )


COMPACT_BELOW = 100
"""Terminal width under which the drift table leaves out method and importance."""


def phase_line(style: Style, phase: int) -> str:
    """Return the phase road: done phases dim, the current one bold."""
    parts = []
    for i, p in enumerate(PHASES):
        if i < phase:
            parts.append(style(p.title, "dim"))
        elif i == phase:
            parts.append(style(f"[{p.title}]", "bold"))
        else:
            parts.append(p.title)
    return "  " + " › ".join(parts)


def performance_lines(style: Style, snap: Snapshot) -> list[str]:
    """Return the performance panel."""
    perf = snap.performance
    if not perf.available:
        return [f"performance: {perf.note}"]
    head = "performance (realised: joined labels; estimated: CBPE, without labels)"
    if perf.status:
        head += " · status " + _status_word(style, perf.status)
    out = [head]
    if perf.coverage is not None:
        out.append(
            f"  label coverage {fmt_pct(perf.coverage)}: {perf.labeled:,} of "
            f"{perf.predictions:,} predictions in the window have their label"
        )
    metrics = [m for m in PERFORMANCE_METRICS if m in perf.realised or m in perf.estimated]
    if not metrics:
        return [*out, f"  {perf.note or 'no figures yet'}"]
    out.append(style(f"  {'metric':<10} {'realised':>9} {'estimated':>10} {'baseline':>9}", "dim"))
    for m in metrics:
        real, est = perf.realised.get(m), perf.estimated.get(m)
        base = fmt_num(perf.baseline.get(m))
        text = f"  {m:<10} {fmt_num(real):>9} {fmt_num(est):>10} {base:>9}"
        if m in perf.diverged:
            text += "  " + style("realised left the estimate's band", "alert")
        out.append(text)
    return out


def frame(progress: Progress, snap: Snapshot, style: Style, width: int = 120) -> list[str]:
    """Return the lines of one live frame for a terminal ``width`` columns wide."""
    p = progress
    phase = PHASES[p.phase]
    compact = width < COMPACT_BELOW
    lines = [
        style("otelml demo", "bold")
        + f" · model breast-cancer · {clock(p.elapsed_s)} / {clock(p.duration_s)} · "
        f"{p.predictions:,} predictions at {p.speed:g}/s",
        f"phase {p.phase + 1}/{len(PHASES)}: " + style(phase.title, "bold") + f" — {phase.detail}",
        phase_line(style, p.phase),
        "",
    ]
    if snap.error:
        lines.append(style(snap.error, "alert"))
    elif not snap.evaluated:
        lines.append("drift: waiting for the first evaluation")
    else:
        lines.append(
            f"drift and data quality (last {snap.window_s:.0f} s vs baseline, {snap.rows:,} rows)"
            " · model status " + _status_word(style, snap.status)
        )
        lines.append(style(drift_header(compact), "dim"))
        rows = sorted(snap.features, key=lambda f: (STATUS_ORDER.get(f.status, 9), f.name))
        rows += [snap.prediction] if snap.prediction else []
        lines += [feature_line(style, f, compact) for f in rows]
    lines.append("")
    lines += performance_lines(style, snap)
    lines.append(
        f"  labels: {p.labels_sent:,} sent, {p.labels_pending:,} on their way, "
        f"{p.labels_never:,} will never come"
    )
    lines.append("")
    lines.append(
        f"/metrics {p.metrics_url}/metrics ({snap.metrics_series:,} samples) · "
        f"OTLP gRPC {p.otlp_grpc}"
    )
    tail = "stopping…" if p.stopping else f"Ctrl-C stops; the report goes to {p.report_path}"
    lines.append(style(tail, "dim"))
    return lines


def _cut(line: str, width: int) -> str:
    """Return ``line`` cut to ``width`` visible characters, escapes kept and reset."""
    if len(_ANSI.sub("", line)) <= width:
        return line
    out, seen, i = [], 0, 0
    while i < len(line) and seen < width - 1:
        m = _ANSI.match(line, i)
        if m:
            out.append(m.group())
            i = m.end()
            continue
        out.append(line[i])
        seen += 1
        i += 1
    return "".join(out) + ("…\x1b[0m" if _ANSI.search(line) else "…")


class LiveView:
    """Redraws a frame in place on a terminal."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self.stream = stream
        self._drawn = 0

    def start(self) -> None:
        """Hide the cursor."""
        self.stream.write("\x1b[?25l")
        self.stream.flush()

    @staticmethod
    def size() -> os.terminal_size:
        """Return the terminal's size (100 x 40 when unknown)."""
        return shutil.get_terminal_size((100, 40))

    def draw(self, lines: Sequence[str]) -> None:
        """Replace the previous frame by ``lines``."""
        size = self.size()
        lines = [_cut(line, size.columns - 1) for line in lines[: max(size.lines - 1, 1)]]
        up = f"\x1b[{self._drawn}F" if self._drawn else "\r"
        self.stream.write(up + "\x1b[J" + "\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)

    def stop(self) -> None:
        """Show the cursor again; the last frame stays on screen."""
        self.stream.write("\x1b[0m\x1b[?25h")
        self.stream.flush()


def status_line(progress: Progress, snap: Snapshot) -> str:
    """Return the one-line summary of the plain (``--no-live``) output."""
    p = progress
    head = f"[{p.elapsed_s:5.1f}s] {p.predictions:,} predictions"
    if snap.error:
        return f"{head} · {snap.error}"
    if not snap.evaluated:
        return f"{head} · drift: waiting for the first evaluation"
    moved = [f"{f.name}={f.status}" for f in snap.features if f.status in ("drift", "warning")]
    quality = [
        f"{f.name} {k} {fmt_pct(v)}"
        for f in snap.features
        if f.quality_status in ("warning", "alert")
        for k, v in f.quality.items()
        if v > f.reference_quality.get(k, 0.0) + 0.05
    ]
    perf = snap.performance
    if not perf.available:
        perf_text = perf.note
    else:
        pairs = [
            f"{m} {fmt_num(perf.realised.get(m))}/{fmt_num(perf.estimated.get(m))}"
            for m in ("accuracy", "roc_auc")
            if m in perf.realised or m in perf.estimated
        ]
        perf_text = (
            ("realised/estimated " + ", ".join(pairs)) if pairs else perf.note or "no figures"
        )
        if perf.coverage is not None:
            perf_text += f", label coverage {fmt_pct(perf.coverage)}"
        if perf.status:
            perf_text += f", status {perf.status}"
        if perf.diverged:
            perf_text += f", diverged: {', '.join(perf.diverged)}"
    return (
        f"{head} · status {snap.status} · drift: {', '.join(moved) or 'none'}"
        f" · quality: {', '.join(quality) or 'ok'} · performance: {perf_text}"
    )
