"""``otelml report --url``: the report of one model over a time range, from a running processor.

>>> from otelml.report.remote import processor_report
>>> html = processor_report("http://127.0.0.1:9464", "fraud", since=time.time() - 3600)
...                                                                    # doctest: +SKIP

The tables and distributions are the processor's latest evaluation (what the model looks like
now); drift over time is every evaluation between ``since`` and ``until`` from the feature
history API. Everything is read over HTTP, so the report shows what ``curl`` would.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, field

from otelml.report.client import ApiClient
from otelml.report.history import feature_history, history_charts, status_table
from otelml.report.html import FeatureView, render_page
from otelml.report.processor import feature_views, performance_table
from otelml.report.snapshot import PREDICTION, Snapshot, poll
from otelml.report.svg import esc
from otelml.stats.baseline import Baseline

_RELATIVE = re.compile(r"^-?(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class ProcessorReportError(Exception):
    """The report cannot be made: processor unreachable, unknown model or version, bad time."""


def parse_time(text: str, now: float) -> float:
    """Return unix seconds of an ISO-8601 time, unix seconds, or ``-1h`` style (before ``now``).

    Relative units: s, m, h, d, w. A time without a zone is UTC.
    """
    text = text.strip()
    m = _RELATIVE.match(text)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ProcessorReportError(
            f"bad time {text!r}: expected ISO-8601, unix seconds or a duration like -1h"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.timestamp()


def iso(t: float | None) -> str:
    """Return ``t`` (unix seconds) as ``YYYY-MM-DD HH:MM:SSZ`` ("–" for None)."""
    if t is None or not math.isfinite(t):
        return "–"
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass
class ProcessorReport:
    """What ``otelml report --url`` found, and its page."""

    model: str
    version: str
    snapshot: Snapshot
    views: list[FeatureView]
    history: dict[str, dict[float, tuple[float, str]]] = field(default_factory=dict)
    html: str = ""

    @property
    def drifted(self) -> list[str]:
        """Return the columns whose latest status is ``drift``."""
        return [v.name for v in self.views if v.status == "drift"]


def _resolve(client: ApiClient, model: str, version: str | None) -> str:
    """Return the version to report on; raise with the known models or versions otherwise."""
    try:
        answer = client.models()
    except OSError as exc:
        raise ProcessorReportError(f"processor unreachable at {client.base_url}: {exc}") from exc
    if not answer.ok or not isinstance(answer.body, dict):
        raise ProcessorReportError(
            f"{client.base_url} answered HTTP {answer.status} to /api/v1/models: "
            "is it an otelml processor's metrics/API port?"
        )
    models = {str(m["model"]): m for m in answer.body.get("models") or []}
    if model not in models:
        known = ", ".join(sorted(models)) or "none yet"
        raise ProcessorReportError(f"unknown model {model!r}; the processor knows: {known}")
    versions = [str(v["version"]) for v in models[model].get("versions") or []]
    if version is not None:
        if version not in versions:
            raise ProcessorReportError(
                f"model {model!r} has no version {version!r}; known: {', '.join(sorted(versions))}"
            )
        return version
    if len(versions) != 1:
        raise ProcessorReportError(
            f"model {model!r} has versions {', '.join(sorted(versions))}: pick one with --version"
        )
    return versions[0]


def _baseline(client: ApiClient, model: str, version: str) -> Baseline | None:
    answer = client.baseline(model, version)
    if not answer.ok or not isinstance(answer.body, dict):
        return None
    return Baseline.from_dict(answer.body["baseline"])


def collect(
    url: str,
    model: str,
    version: str | None = None,
    *,
    environment: str | None = None,
    since: float = -math.inf,
    until: float = math.inf,
) -> ProcessorReport:
    """Return the processor's figures for ``model`` (views, snapshot, history in range)."""
    client = ApiClient(url, environment=environment)
    version = _resolve(client, model, version)
    try:
        snap = poll(client, model, version)
        if snap.error:
            raise ProcessorReportError(snap.error)
        if not snap.evaluated:
            raise ProcessorReportError(
                f"model {model!r} version {version!r} has not been evaluated yet"
                + (f" in environment {environment!r}" if environment else "")
                + ": wait for the evaluation interval or POST /api/v1/evaluate"
            )
        baseline = _baseline(client, model, version)
        views = feature_views(snap, baseline, model=model, version=version)
        names = [f.name for f in snap.features] + [PREDICTION]
        history = {}
        for name in names:
            pts = feature_history(client, model, version, name, since, until)
            if pts:
                history["prediction" if name == PREDICTION else name] = pts
    except OSError as exc:
        raise ProcessorReportError(f"processor unreachable at {url}: {exc}") from exc
    return ProcessorReport(model, version, snap, views, history)


def _over_time(report: ProcessorReport) -> str:
    history = report.history
    if not history:
        return "<p>No evaluation in the time range.</p>"
    times = sorted({t for pts in history.values() for t in pts})
    span = times[-1] - times[0]
    day = _dt.datetime.fromtimestamp(times[0], _dt.timezone.utc).strftime("%Y-%m-%d")

    def fmt(t: float) -> str:
        when = _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
        return when.strftime(
            "%H:%M:%S" if span < 600 else "%H:%M" if span < 86400 else "%m-%d %H:%M"
        )

    ratios = {n: {t: r for t, (r, _) in pts.items()} for n, pts in history.items()}
    drifted = [n for n, pts in history.items() if any(s == "drift" for _, s in pts.values())]
    groups = [
        ("drifted in the range", drifted),
        ("no drift in the range", [n for n in history if n not in drifted]),
    ]
    charts = history_charts(ratios, [g for g in groups if g[1]], x_format=fmt)
    return (
        f'<p class="meta">{len(times)} evaluations from {esc(iso(times[0]))} to '
        f"{esc(iso(times[-1]))} (times UTC, {esc(day)}). Effect size ÷ the drift threshold of "
        "each feature's method, from <code>GET .../features/{feature}/history</code>; above 1 "
        "a feature drifts when the change is also significant; gaps: too few rows.</p>"
        + "".join(charts)
        + status_table(history, iso)
    )


def render(
    report: ProcessorReport, *, url: str, since: float, until: float, title: str = ""
) -> str:
    """Return the report's HTML page."""
    from otelml._version import __version__

    snap = report.snapshot
    perf = snap.performance
    if perf.realised or perf.estimated:
        perf_html = performance_table(perf)
    else:
        perf_html = f"<p>{esc(perf.note or 'no performance figures')}.</p>"
    sections = [
        ("Drift over time", _over_time(report)),
        ("Performance", perf_html),
    ]
    rng = f"{iso(since) if math.isfinite(since) else 'start'} to "
    rng += iso(until) if math.isfinite(until) else "now"
    meta = (
        f"model {report.model} · version {report.version} · environment "
        f"{snap.environment or '–'} · processor {url} · range {rng} · tables and "
        f"distributions: last evaluation at {iso(snap.evaluated_at)} (window "
        f"{iso(snap.window_start)} to {iso(snap.window_end)}) · compared with "
        f"{snap.reference or 'baseline'} {snap.baseline_version}"
        + (" (fallback)" if snap.fallback else "")
        + f" · model status {snap.status}"
    )
    cards = {"model status": snap.status.replace("_", " "), "rows in window": f"{snap.rows:,}"}
    if perf.coverage is not None:
        cards["label coverage"] = f"{100 * perf.coverage:.0f}%"
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    return render_page(
        title or f"otelml report: {report.model} {report.version}",
        report.views,
        meta=meta,
        cards=cards,
        extra_sections=sections,
        footer=f"Generated by otelml {__version__} from {url} at {now}.",
    )


def processor_report(
    url: str,
    model: str,
    version: str | None = None,
    *,
    environment: str | None = None,
    since: float = -math.inf,
    until: float = math.inf,
    title: str = "",
) -> ProcessorReport:
    """Return the report of ``model`` from the processor at ``url``, its page in ``.html``.

    Raises :class:`ProcessorReportError` (processor unreachable, unknown model or version,
    no evaluation yet).
    """
    report = collect(url, model, version, environment=environment, since=since, until=until)
    report.html = render(report, url=url, since=since, until=until, title=title)
    return report
