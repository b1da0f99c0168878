"""What the processor says about a model right now, read through its HTTP surface.

One :class:`Snapshot` per read: the latest evaluation (``GET .../status``: drift and quality
per feature), the performance (``GET .../performance`` when the processor has the
ground-truth join; its gauges on ``/metrics``), and how many series ``/metrics`` exposes. The
demo's live view and log lines are drawn from it, and both processor-backed reports (the
demo's and ``otelml report --url``) from the last one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from otelml.report.client import ApiClient, samples

PERFORMANCE_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
"""Metrics shown, in this order, when the processor has them."""
PREDICTION = "__prediction__"


@dataclass
class FeatureRow:
    """One feature's (or the prediction's) latest drift and quality figures."""

    name: str
    kind: str
    status: str
    method: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    effect_size: float | None = None
    importance: float | None = None
    rows: int = 0
    n_current: int = 0
    """Values compared (finite values for numbers, non-missing for categories)."""
    quality: dict[str, float] = field(default_factory=dict)
    reference_quality: dict[str, float] = field(default_factory=dict)
    quality_status: str = "insufficient_data"

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> FeatureRow:
        """Return a row from one entry of the status API's ``drift`` or ``prediction`` list."""
        return cls(
            name=str(d.get("feature", "?")),
            kind=str(d.get("kind") or "?"),
            status=str(d.get("status") or "insufficient_data"),
            method=d.get("method"),
            statistic=d.get("statistic"),
            p_value=d.get("p_value"),
            effect_size=d.get("effect_size"),
            importance=d.get("importance"),
            rows=int(d.get("rows") or 0),
            n_current=int(d.get("n_current") or 0),
            quality={k: float(v) for k, v in (d.get("quality") or {}).items() if v is not None},
            reference_quality={
                k: float(v) for k, v in (d.get("reference_quality") or {}).items() if v is not None
            },
            quality_status=str(d.get("quality_status") or "insufficient_data"),
        )


@dataclass
class Performance:
    """Realised and estimated performance and label coverage, or why there is none yet."""

    available: bool
    """Whether the processor has the ground-truth join (its performance route exists)."""
    note: str = ""
    realised: dict[str, float] = field(default_factory=dict)
    estimated: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    coverage: float | None = None
    status: str = ""
    """``ok``, ``degraded`` or ``insufficient_data`` (the processor's verdict)."""
    labeled: int = 0
    predictions: int = 0
    diverged: list[str] = field(default_factory=list)
    """Metrics whose realised value left the estimate's band (concept change, likely)."""
    raw: Any = None
    """The performance route's JSON body, for the report."""


@dataclass
class Snapshot:
    """The processor's view of the model at one moment."""

    evaluated: bool = False
    status: str = "insufficient_data"
    window_s: float = 0.0
    rows: int = 0
    features: list[FeatureRow] = field(default_factory=list)
    prediction: FeatureRow | None = None
    performance: Performance = field(default_factory=lambda: Performance(False))
    metrics_series: int = 0
    metrics_text: str = ""
    error: str = ""
    evaluated_at: float | None = None
    window_start: float | None = None
    window_end: float | None = None
    environment: str = ""
    baseline_version: str = ""
    fallback: bool = False
    reference: str = ""
    """What the window was compared with (``baseline`` or the processor's other reference)."""

    def feature(self, name: str) -> FeatureRow | None:
        """Return the row of feature ``name`` (None when not evaluated)."""
        return next((f for f in self.features if f.name == name), None)


STATUS_ORDER = {"drift": 0, "warning": 1, "ok": 2, "insufficient_data": 3}
"""Most severe first: the order of the final summary."""


def _finite(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _gauges(text: str, model: str, version: str) -> Performance:
    """Return the performance gauges of the model's all-rows series from ``/metrics``."""
    perf = Performance(True)
    for name, labels, value in samples(text, "otelml_"):
        if labels.get("model") != model or labels.get("version") != version:
            continue
        if labels.get("segment", "") != "" or not math.isfinite(value):
            continue
        metric = labels.get("metric", "")
        if name == "otelml_performance_metric" and metric:
            perf.realised[metric] = value
        elif name == "otelml_performance_estimated" and metric:
            perf.estimated[metric] = value
        elif name == "otelml_label_coverage_ratio":
            perf.coverage = value
    return perf


def _performance(client: ApiClient, model: str, version: str, text: str) -> Performance:
    answer = client.performance(model, version)
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status == 404:
        message = str((body.get("error") or {}).get("message", ""))
        if message.startswith("no "):
            return Performance(True, "no predictions in the performance window yet")
        # aiohttp's own "Not Found" (no such route) or "the ground-truth join is not running"
        return Performance(False, "waiting for the ground-truth join")
    if not answer.ok:
        return Performance(True, f"HTTP {answer.status} from the performance route")
    perf = Performance(True, raw=body)
    _from_json(perf, body)
    if not (perf.realised or perf.estimated):
        # Older or newer shapes of the route: the documented gauges carry the same figures.
        gauges = _gauges(text, model, version)
        perf.realised, perf.estimated = gauges.realised, gauges.estimated
        perf.coverage = perf.coverage if perf.coverage is not None else gauges.coverage
    if not perf.realised:
        perf.note = "no labelled predictions in the window yet"
    return perf


def _figures(block: Any) -> dict[str, float]:
    if not isinstance(block, dict):
        return {}
    out = {}
    for metric, value in block.items():
        v = _finite(value)
        if v is not None:
            out[str(metric)] = v
    return out


def _from_json(perf: Performance, body: dict[str, Any]) -> None:
    """Fill ``perf`` from the route's all-rows segment."""
    seg = next((s for s in body.get("segments") or [] if s.get("segment", "") == ""), None)
    if not isinstance(seg, dict):
        return
    perf.realised = _figures(seg.get("metrics"))
    perf.estimated = _figures(seg.get("estimated"))
    perf.baseline = _figures(seg.get("baseline"))
    perf.coverage = _finite(seg.get("coverage"))
    perf.status = str(seg.get("status") or "")
    perf.labeled = int(seg.get("labeled") or 0)
    perf.predictions = int(seg.get("predictions") or 0)
    div = seg.get("divergence")
    perf.diverged = sorted(k for k, v in div.items() if v) if isinstance(div, dict) else []


def poll(client: ApiClient, model: str, version: str) -> Snapshot:
    """Return the processor's current view of ``model`` ``version`` (never raises on HTTP)."""
    snap = Snapshot()
    try:
        text = client.metrics_text()
        snap.metrics_text = text
        snap.metrics_series = sum(1 for line in text.splitlines() if line and line[0] != "#")
        answer = client.status(model, version)
        if answer.ok and isinstance(answer.body, dict):
            body = answer.body
            snap.evaluated = True
            snap.status = str(body.get("status", "insufficient_data"))
            window = body.get("window") or {}
            snap.window_s = float(window.get("end", 0.0)) - float(window.get("start", 0.0))
            snap.window_start = _finite(window.get("start"))
            snap.window_end = _finite(window.get("end"))
            snap.evaluated_at = _finite(body.get("evaluated_at"))
            snap.environment = str(body.get("environment") or "")
            snap.baseline_version = str(body.get("baseline_version") or "")
            snap.fallback = bool(body.get("fallback"))
            snap.reference = str(body.get("reference") or "")
            snap.rows = int(body.get("rows") or 0)
            snap.features = [FeatureRow.from_api(d) for d in body.get("drift") or []]
            preds = [p for p in body.get("prediction") or [] if p.get("segment", "") == ""]
            if preds:
                snap.prediction = FeatureRow.from_api(preds[0])
                snap.prediction.name = "prediction"
        snap.performance = _performance(client, model, version, text)
    except OSError as exc:
        snap.error = f"processor unreachable: {exc}"
    return snap
