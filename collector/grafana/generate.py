"""Writes otelml's Grafana dashboards (dashboards/*.json) from one description of their panels.

    python collector/grafana/generate.py

The JSON files are what Grafana provisions (provisioning/dashboards/otelml.yaml); this script is
their source, so that the three dashboards share variables, data source, colours and links.
tests/stack holds the files equal to this script's output, validates them against Grafana's
dashboard schema (grafana-foundation-sdk) and runs every panel query against a real Prometheus.
Plain Python, no dependency: Grafana 10.1's dashboard JSON (schemaVersion 38).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE_UID = "otelml-prometheus"
DS = {"type": "prometheus", "uid": "${datasource}"}

# Label filters shared by the panels; the variables are defined in _variables().
M = 'model="$model", version=~"$version", environment="$environment"'
MS = M + ', segment=~"$segment"'
F = MS + ', feature="$feature"'
APP = 'ml_model_name="$model", ml_model_version=~"$version", ml_environment="$environment"'

Json = dict[str, Any]

DRIFT_STATUS = [
    ("-1", "insufficient data", "text"),
    ("0", "ok", "green"),
    ("1", "warning", "yellow"),
    ("2", "drift", "red"),
]
PERFORMANCE_STATUS = [
    ("-1", "insufficient labels", "text"),
    ("0", "ok", "green"),
    ("1", "degraded", "red"),
]


def _mappings(codes: list[tuple[str, str, str]]) -> list[Json]:
    options = {
        value: {"text": text, "color": color, "index": i}
        for i, (value, text, color) in enumerate(codes)
    }
    return [{"type": "value", "options": options}]


def target(expr: str, legend: str = "__auto", *, instant: bool = False, fmt: str = "") -> Json:
    """Return a Prometheus query of a panel (refId set by the panel)."""
    t: Json = {
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
        "range": not instant,
        "instant": instant,
    }
    if fmt:
        t["format"] = fmt
    return t


class Layout:
    """Places panels left to right on Grafana's 24-column grid, rows below each other."""

    def __init__(self) -> None:
        self.panels: list[Json] = []
        self.x = 0
        self.y = 0
        self.row_h = 0

    def row(self, title: str) -> None:
        self.y += self.row_h
        self.x, self.row_h = 0, 0
        self.panels.append(
            {
                "type": "row",
                "id": len(self.panels) + 1,
                "title": title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        self.y += 1

    def add(
        self,
        kind: str,
        title: str,
        description: str,
        targets: list[Json],
        *,
        w: int = 8,
        h: int = 8,
        unit: str = "",
        mappings: list[Json] | None = None,
        options: Json | None = None,
        custom: Json | None = None,
        transformations: list[Json] | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
        links: list[Json] | None = None,
    ) -> None:
        if self.x + w > 24:
            self.y += self.row_h
            self.x, self.row_h = 0, 0
        defaults: Json = {}
        if unit:
            defaults["unit"] = unit
        if mappings:
            defaults["mappings"] = mappings
            defaults["color"] = {"mode": "thresholds"}
            defaults["thresholds"] = {
                "mode": "absolute",
                "steps": [{"color": "text", "value": None}],
            }
        if minimum is not None:
            defaults["min"] = minimum
        if maximum is not None:
            defaults["max"] = maximum
        if custom:
            defaults["custom"] = custom
        panel: Json = {
            "type": kind,
            "id": len(self.panels) + 1,
            "title": title,
            "description": description,
            "datasource": DS,
            "gridPos": {"x": self.x, "y": self.y, "w": w, "h": h},
            "targets": [{**t, "refId": chr(ord("A") + i)} for i, t in enumerate(targets)],
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options if options is not None else _default_options(kind),
        }
        if transformations:
            panel["transformations"] = transformations
        if links:
            panel["links"] = links
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)


def _default_options(kind: str) -> Json:
    legend = {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []}
    tooltip = {"mode": "multi", "sort": "desc"}
    if kind == "timeseries":
        return {"legend": legend, "tooltip": tooltip}
    if kind == "state-timeline":
        return {
            "legend": legend,
            "tooltip": {"mode": "single", "sort": "none"},
            "showValue": "never",
            "mergeValues": True,
            "rowHeight": 0.9,
            "alignValue": "left",
        }
    if kind == "stat":
        return {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        }
    if kind == "bargauge":
        return {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "displayMode": "gradient",
            "orientation": "horizontal",
            "showUnfilled": True,
            "valueMode": "color",
        }
    if kind == "table":
        return {"showHeader": True, "cellHeight": "sm"}
    if kind == "barchart":
        return {
            "legend": legend,
            "tooltip": tooltip,
            "orientation": "vertical",
            "xTickLabelRotation": 0,
            "showValue": "never",
            "groupWidth": 0.8,
            "barWidth": 0.9,
            "stacking": "none",
        }
    if kind == "heatmap":
        return {
            "calculate": False,
            "yAxis": {"axisPlacement": "left"},
            "cellGap": 1,
            "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
            "tooltip": {"show": True, "yHistogram": False},
            "legend": {"show": True},
        }
    raise ValueError(f"kind: no default options for {kind!r}")


def _variable(name: str, label: str, query: str, **extra: Any) -> Json:
    v: Json = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": query,
        "refresh": 2,
        "sort": 1,
        "hide": 0,
        "multi": False,
        "includeAll": False,
        "options": [],
        "current": {},
        "regex": "",
        "skipUrlSync": False,
    }
    v.update(extra)
    return v


def _datasource_variable() -> Json:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {"selected": False, "text": "Prometheus (otelml)", "value": DATASOURCE_UID},
        "hide": 0,
        "multi": False,
        "includeAll": False,
        "options": [],
        "regex": "",
        "skipUrlSync": False,
    }


def _model_variables(feature: bool = False, segment: bool = True) -> list[Json]:
    out = [
        _datasource_variable(),
        _variable("model", "Model", "label_values(otelml_predictions_total, model)"),
        _variable(
            "environment",
            "Environment",
            'label_values(otelml_predictions_total{model="$model"}, environment)',
        ),
        _variable(
            "version",
            "Version",
            'label_values(otelml_predictions_total{model="$model", environment="$environment"}, '
            "version)",
            multi=True,
            includeAll=True,
            allValue=".*",
            current={"selected": True, "text": ["All"], "value": ["$__all"]},
        ),
    ]
    if feature:
        out.append(
            _variable(
                "feature",
                "Feature",
                f"label_values(otelml_feature_drift_status{{{M}}}, feature)",
            )
        )
    if segment:
        # Series of all rows have segment="" (no label in Prometheus): "All" selects them,
        # a value selects one segment. Segments are never summed into totals.
        out.append(
            _variable(
                "segment",
                "Segment (All = all rows)",
                f"label_values(otelml_predictions_total{{{M}}}, segment)",
                includeAll=True,
                allValue="^$",
                current={"selected": True, "text": "All", "value": "$__all"},
            )
        )
    return out


def _links() -> list[Json]:
    return [
        {
            "title": "otelml dashboards",
            "type": "dashboards",
            "tags": ["otelml"],
            "asDropdown": False,
            "includeVars": True,
            "keepTime": True,
            "icon": "external link",
            "targetBlank": False,
            "tooltip": "",
            "url": "",
        }
    ]


def _feature_link() -> list[Json]:
    return [
        {
            "title": "Feature ${__field.labels.feature}",
            "url": "/d/otelml-feature/otelml-feature?${__url_time_range}&${model:queryparam}"
            "&${environment:queryparam}&${version:queryparam}"
            "&var-feature=${__field.labels.feature}",
        }
    ]


def dashboard(
    uid: str, title: str, description: str, variables: list[Json], layout: Layout
) -> Json:
    """Return a complete dashboard document."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["otelml"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 38,
        "version": 1,
        "refresh": "1m",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": _links(),
        "panels": layout.panels,
    }


# -- models overview ---------------------------------------------------------------------------


def _latency(lay: Layout, w: int = 8) -> None:
    lay.add(
        "timeseries",
        "Predict latency (app)",
        "Wall time of the decorated predict function, from the app's ml.predict.duration "
        "histogram (Prometheus name ml_predict_duration_seconds, via the Collector).",
        [
            target(
                f"histogram_quantile({q}, sum by (le) (rate(ml_predict_duration_seconds_bucket"
                f"{{{APP}}}[$__rate_interval])))",
                f"p{round(q * 100)}",
            )
            for q in (0.5, 0.95, 0.99)
        ],
        w=w,
        unit="s",
    )


def _drift_timeline(lay: Layout, w: int = 16) -> None:
    lay.add(
        "state-timeline",
        "Drift status per feature",
        "otelml_feature_drift_status of each feature at each evaluation: ok, warning, drift, "
        "insufficient data.",
        [target(f"max by (feature) (otelml_feature_drift_status{{{MS}}})", "{{feature}}")],
        w=w,
        h=10,
        mappings=_mappings(DRIFT_STATUS),
        links=_feature_link(),
    )


def _top_drifting(lay: Layout, w: int = 8) -> None:
    lay.add(
        "bargauge",
        "Top drifting features (weighted)",
        "Drift effect size over its method's threshold, times feature importance: one scale "
        "across methods (1 = at the drift threshold for an importance-1 feature).",
        [
            target(
                f"topk(10, max by (feature) (otelml_feature_drift_weighted_score{{{MS}}}))",
                "{{feature}}",
                instant=True,
            )
        ],
        w=w,
        h=10,
        minimum=0,
        links=_feature_link(),
    )


def _status_stats(lay: Layout) -> None:
    lay.add(
        "stat",
        "Model status",
        "Worst status over the model's features and prediction.",
        [target(f"max(otelml_model_status{{{M}}})", "status")],
        w=4,
        h=4,
        mappings=_mappings(DRIFT_STATUS),
    )
    lay.add(
        "stat",
        "Features drifted",
        "Features whose status is drift in the latest evaluation.",
        [target(f"max(otelml_model_features_drifted{{{M}}})", "features")],
        w=4,
        h=4,
    )


def models_overview() -> Json:
    """Return the "otelml — models overview" dashboard."""
    lay = Layout()
    lay.row("Volume and latency")
    _status_stats(lay)
    lay.add(
        "stat",
        "Rows in the evaluation window",
        "Rows predicted in the latest evaluation window.",
        [target(f"sum(otelml_model_window_rows{{{M}}})", "rows")],
        w=4,
        h=4,
        unit="short",
    )
    lay.add(
        "table",
        "Baseline in use",
        "Baseline version per model version; fallback = an earlier version's baseline; "
        "reference = baseline, previous_window (rolling) or none.",
        [
            target(
                "max by (version, baseline_version, fallback, reference) "
                '(otelml_model_baseline_info{model="$model", version=~"$version"})',
                instant=True,
                fmt="table",
            )
        ],
        w=12,
        h=4,
        transformations=[
            {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True}}}
        ],
    )
    lay.add(
        "timeseries",
        "Predictions per second",
        "Rows predicted, summed over processor replicas (otelml_predictions_total).",
        [
            target(
                f"sum by (version) (rate(otelml_predictions_total{{{MS}}}[$__rate_interval]))",
                "{{version}}",
            )
        ],
        unit="reqps",
    )
    _latency(lay)
    lay.add(
        "timeseries",
        "Predict calls per second (app)",
        "Calls of the decorated predict function (a call may be a batch of rows).",
        [
            target(
                "sum by (ml_model_version) (rate(ml_predict_duration_seconds_count"
                f"{{{APP}}}[$__rate_interval]))",
                "{{ml_model_version}}",
            )
        ],
        unit="reqps",
    )

    lay.row("Drift")
    _drift_timeline(lay)
    _top_drifting(lay)
    lay.add(
        "state-timeline",
        "Prediction drift status",
        "Drift status of the model output distribution.",
        [target(f"max(otelml_prediction_drift_status{{{MS}}})", "prediction")],
        w=8,
        h=6,
        mappings=_mappings(DRIFT_STATUS),
    )
    lay.add(
        "timeseries",
        "Prediction drift score",
        "Drift statistic of the model output against its reference, by method.",
        [target(f"max by (method) (otelml_prediction_drift_score{{{MS}}})", "{{method}}")],
        h=6,
    )
    lay.add(
        "timeseries",
        "Drift effect size per feature",
        "Sample-size-free magnitude of each feature's drift.",
        [target(f"max by (feature) (otelml_feature_drift_effect_size{{{MS}}})", "{{feature}}")],
        h=6,
        links=_feature_link(),
    )

    lay.row("Data quality")
    lay.add(
        "timeseries",
        "Issue share per feature (evaluation window)",
        "Share of the window's rows with an issue (missing, nan, inf, type_mismatch, "
        "out_of_range, new_category; missing_feature 1 for a feature that does not arrive); "
        "only issues that occur are shown.",
        [
            target(
                f"max by (feature, issue) (otelml_feature_quality_ratio{{{MS}}}) > 0",
                "{{feature}} {{issue}}",
            )
        ],
        unit="percentunit",
        links=_feature_link(),
    )
    lay.add(
        "timeseries",
        "Missing share (5 min, all replicas)",
        "Recording rule otelml:feature_missing:ratio_rate5m: missing / predicted rows.",
        [target(f"otelml:feature_missing:ratio_rate5m{{{MS}}}", "{{feature}}")],
        unit="percentunit",
    )
    lay.add(
        "timeseries",
        "Invalid share (5 min, all replicas)",
        "Recording rule otelml:feature_invalid:ratio_rate5m: NaN, inf or wrong-type values / "
        "predicted rows.",
        [target(f"otelml:feature_invalid:ratio_rate5m{{{MS}}}", "{{feature}} {{issue}}")],
        unit="percentunit",
    )
    lay.add(
        "table",
        "Baseline features not arriving",
        "Features of the baseline of which the evaluation window holds nothing while the model "
        "has data (issue missing_feature): renamed or dropped upstream, not watched meanwhile. "
        "Alert OtelmlMissingFeature.",
        [
            target(
                "max by (version, feature) (otelml_feature_quality_ratio"
                f'{{{M}, segment="", issue="missing_feature"}}) > 0',
                instant=True,
                fmt="table",
            )
        ],
        links=_feature_link(),
    )

    lay.row("Performance")
    lay.add(
        "timeseries",
        "Realised performance",
        "Metrics from predictions joined with their ground truth.",
        [target(f"max by (metric) (otelml_performance_metric{{{MS}}})", "{{metric}}")],
    )
    lay.add(
        "timeseries",
        "Estimated performance (CBPE) and baseline",
        "Performance estimated from the scores alone while labels are delayed, beside the "
        "baseline's value.",
        [
            target(
                f"max by (metric) (otelml_performance_estimated{{{MS}}})", "{{metric}} estimated"
            ),
            target(f"max by (metric) (otelml_performance_baseline{{{MS}}})", "{{metric}} baseline"),
        ],
    )
    lay.add(
        "state-timeline",
        "Performance status",
        "ok, degraded (worse than the baseline), or not enough labels.",
        [target(f"max(otelml_performance_status{{{MS}}})", "performance")],
        mappings=_mappings(PERFORMANCE_STATUS),
    )
    lay.add(
        "timeseries",
        "Accuracy from confusion counts (1 h, all replicas)",
        "Recording rule otelml:performance_accuracy:ratio1h.",
        [target(f"otelml:performance_accuracy:ratio1h{{{MS}}}", "accuracy")],
        unit="percentunit",
    )
    lay.add(
        "timeseries",
        "Regression errors (1 h, all replicas)",
        "Recording rules otelml:performance_mae:ratio1h and otelml:performance_rmse:ratio1h.",
        [
            target(f"otelml:performance_mae:ratio1h{{{MS}}}", "MAE"),
            target(f"otelml:performance_rmse:ratio1h{{{MS}}}", "RMSE"),
        ],
    )
    lay.add(
        "timeseries",
        "Estimate minus realised",
        "CBPE estimate minus realised value: far from 0 means the scores are no longer calibrated.",
        [target(f"max by (metric) (otelml_performance_estimate_divergence{{{MS}}})", "{{metric}}")],
    )

    lay.row("Ground truth")
    lay.add(
        "timeseries",
        "Label coverage",
        "Share of predictions joined to an actual.",
        [target(f"max(otelml_label_coverage_ratio{{{MS}}})", "coverage")],
        w=6,
        unit="percentunit",
        minimum=0,
        maximum=1,
    )
    lay.add(
        "timeseries",
        "Label delay",
        "Time from prediction to its actual.",
        [
            target(
                f"histogram_quantile({q}, sum by (le) (rate(otelml_label_delay_seconds_bucket"
                f"{{{M}}}[$__rate_interval])))",
                f"p{round(q * 100)}",
            )
            for q in (0.5, 0.95)
        ],
        w=6,
        unit="s",
    )
    lay.add(
        "timeseries",
        "Actuals per second by outcome",
        "Actuals received, by join outcome.",
        [
            target(
                'sum by (outcome) (rate(otelml_actuals_total{model="$model"}[$__rate_interval]))',
                "{{outcome}}",
            )
        ],
        w=6,
    )
    lay.add(
        "timeseries",
        "Predictions waiting for ground truth",
        "Predictions kept for the join that have no actual yet.",
        [target('sum(otelml_predictions_pending{model="$model"})', "pending")],
        w=6,
    )

    lay.row("otelml processor and Collector")
    lay.add(
        "timeseries",
        "Items per second",
        "Items (metric points, spans, log records) accepted and rejected, by signal and reason.",
        [
            target(
                "sum by (signal) (rate(otelml_processor_accepted_total[$__rate_interval]))",
                "accepted {{signal}}",
            ),
            target(
                "sum by (signal, reason) (rate(otelml_processor_rejected_total[$__rate_interval]))",
                "rejected {{signal}} {{reason}}",
            ),
        ],
        w=6,
    )
    lay.add(
        "timeseries",
        "Cardinality overflow",
        "Items counted under __overflow__ or dropped by a cap, by limit.",
        [
            target(
                "sum by (limit) (increase(otelml_processor_overflow_total[$__rate_interval]))",
                "{{limit}}",
            )
        ],
        w=6,
    )
    lay.add(
        "timeseries",
        "Write queue and evaluation time",
        "Requests waiting for the storage writer, per replica; p95 of one evaluation run.",
        [
            target("max by (instance) (otelml_processor_queue_depth)", "queue {{instance}}"),
            target(
                "histogram_quantile(0.95, sum by (le) (rate("
                "otelml_processor_evaluation_duration_seconds_bucket[$__rate_interval])))",
                "evaluation p95 (s)",
            ),
        ],
        w=6,
    )
    lay.add(
        "timeseries",
        "Collector → otelml",
        "What the Collector's otelml exporters sent and failed to send (its own telemetry; "
        "Collector versions differ on the _total suffix of these counters).",
        [
            target(
                "sum by (exporter) (rate({__name__="
                '~"otelcol_exporter_sent_metric_points(_total)?", '
                'exporter=~".*otelml.*"}[$__rate_interval]))',
                "sent points {{exporter}}",
            ),
            target(
                "sum by (exporter) (rate({__name__="
                '~"otelcol_exporter_send_failed_metric_points(_total)?", '
                'exporter=~".*otelml.*"}[$__rate_interval]))',
                "failed points {{exporter}}",
            ),
        ],
        w=6,
    )
    lay.add(
        "table",
        "Firing otelml alerts",
        "Alerts of collector/prometheus/rules/alerts.yml that fire for this model or for the "
        "processor.",
        [
            target(
                'ALERTS{alertname=~"Otelml.*", alertstate="firing", model=~"$model|"}',
                instant=True,
                fmt="table",
            )
        ],
        w=24,
        h=6,
        transformations=[
            {
                "id": "organize",
                "options": {"excludeByName": {"Time": True, "Value": True, "__name__": True}},
            }
        ],
    )
    return dashboard(
        "otelml-models",
        "otelml — models overview",
        "Volume, latency, drift, data quality, performance and ground truth of one model.",
        _model_variables(),
        lay,
    )


# -- feature view ------------------------------------------------------------------------------


def feature_view() -> Json:
    """Return the "otelml — feature" dashboard."""
    lay = Layout()
    lay.row("Distribution")
    # Bin indices are zero-padded to two digits so that bins sort in order as text.
    shares = (
        "label_replace(max by (bin, le, source) (otelml_feature_bin_share{" + F + "}), "
        '"bin", "0$1", "bin", "([0-9])")'
    )
    lay.add(
        "barchart",
        "Current vs baseline share per bin",
        "Share of the evaluation window's values in each bin of the baseline (current) beside "
        "the baseline's own share (baseline). Numeric bins are the baseline's quantile bins "
        "(bin 00 = up to the first edge); categorical bins are categories.",
        [target(shares, instant=True, fmt="table")],
        w=16,
        h=10,
        unit="percentunit",
        transformations=[
            {
                "id": "groupingToMatrix",
                "options": {
                    "columnField": "source",
                    "rowField": "bin",
                    "valueField": "Value",
                    "emptyValue": "zero",
                },
            },
            {"id": "sortBy", "options": {"sort": [{"field": "bin\\source", "desc": False}]}},
        ],
        options={**_default_options("barchart"), "xField": "bin\\source"},
    )
    lay.add(
        "table",
        "Bin edges",
        "Upper edge (le) of each bin; +Inf for the last.",
        [
            target(
                "label_replace(max by (bin, le) (otelml_feature_bin_share{"
                + F
                + ', source="baseline"}), "bin", "0$1", "bin", "([0-9])")',
                instant=True,
                fmt="table",
            )
        ],
        w=8,
        h=10,
        transformations=[
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
            {"id": "sortBy", "options": {"sort": [{"field": "bin", "desc": False}]}},
        ],
    )
    lay.add(
        "heatmap",
        "Values received over time (numeric)",
        "otelml_feature_values histogram on the baseline's edges, summed over replicas.",
        [
            target(
                f"sum by (le) (increase(otelml_feature_values_bucket{{{F}}}[$__rate_interval]))",
                "{{le}}",
                fmt="heatmap",
            )
        ],
        w=12,
    )
    lay.add(
        "timeseries",
        "Categories per second (categorical)",
        "otelml_feature_category_total by category, summed over replicas.",
        [
            target(
                f"sum by (category) (rate(otelml_feature_category_total{{{F}}}[$__rate_interval]))",
                "{{category}}",
            )
        ],
        w=12,
        custom={"stacking": {"mode": "percent", "group": "A"}, "fillOpacity": 60},
    )

    lay.row("Drift statistics")
    lay.add(
        "state-timeline",
        "Drift status",
        "ok, warning, drift or insufficient data at each evaluation.",
        [target(f"max(otelml_feature_drift_status{{{F}}})", "{{feature}}")],
        w=24,
        h=4,
        mappings=_mappings(DRIFT_STATUS),
    )
    lay.add(
        "timeseries",
        "Drift statistic",
        "The drift method's statistic against the reference.",
        [target(f"max by (method) (otelml_feature_drift_score{{{F}}})", "{{method}}")],
    )
    lay.add(
        "timeseries",
        "p-value",
        "p-value of the drift test (methods with a test only, e.g. chi_square).",
        [target(f"max by (method) (otelml_feature_drift_pvalue{{{F}}})", "{{method}}")],
        custom={"scaleDistribution": {"type": "log", "log": 10}},
    )
    lay.add(
        "timeseries",
        "Effect size and weighted score",
        "Sample-size-free magnitude; weighted = effect / drift threshold x importance.",
        [
            target(f"max(otelml_feature_drift_effect_size{{{F}}})", "effect size"),
            target(f"max(otelml_feature_drift_weighted_score{{{F}}})", "weighted score"),
        ],
    )

    lay.row("Quality")
    lay.add(
        "timeseries",
        "Issue share vs baseline",
        "Share of the window's rows with each issue, beside the baseline's share.",
        [
            target(f"max by (issue) (otelml_feature_quality_ratio{{{F}}})", "{{issue}}"),
            target(
                f"max by (issue) (otelml_feature_quality_baseline_ratio{{{F}}})",
                "{{issue}} (baseline)",
            ),
        ],
        w=12,
        unit="percentunit",
    )
    lay.add(
        "timeseries",
        "Missing and invalid values per second",
        "Counters summed over replicas.",
        [
            target(f"sum(rate(otelml_feature_missing_total{{{F}}}[$__rate_interval]))", "missing"),
            target(
                f"sum by (issue) (rate(otelml_feature_invalid_total{{{F}}}[$__rate_interval]))",
                "{{issue}}",
            ),
        ],
        w=12,
    )
    return dashboard(
        "otelml-feature",
        "otelml — feature",
        "One feature: current against baseline distribution on the same bins, drift "
        "statistics over time, data quality.",
        _model_variables(feature=True),
        lay,
    )


# -- service + model ---------------------------------------------------------------------------

HTTP = 'job="$service"'


def service_and_model() -> Json:
    """Return the "otelml — service + model" example dashboard (HTTP panels beside the model)."""
    lay = Layout()
    lay.row("Service: HTTP server (OpenTelemetry semantic conventions)")
    lay.add(
        "timeseries",
        "Requests per second by status",
        "http.server.request.duration count (Prometheus: http_server_request_duration_seconds).",
        [
            target(
                "sum by (http_response_status_code) (rate("
                f"http_server_request_duration_seconds_count{{{HTTP}}}[$__rate_interval]))",
                "{{http_response_status_code}}",
            )
        ],
        unit="reqps",
    )
    lay.add(
        "timeseries",
        "Error rate (5xx)",
        "Share of requests answered with a 5xx status.",
        [
            target(
                "sum(rate(http_server_request_duration_seconds_count"
                f'{{{HTTP}, http_response_status_code=~"5.."}}[$__rate_interval])) / '
                f"sum(rate(http_server_request_duration_seconds_count{{{HTTP}}}"
                "[$__rate_interval]))",
                "5xx",
            )
        ],
        unit="percentunit",
    )
    lay.add(
        "timeseries",
        "Request latency p95 by route",
        "95th percentile of http.server.request.duration.",
        [
            target(
                "histogram_quantile(0.95, sum by (le, http_route) (rate("
                f"http_server_request_duration_seconds_bucket{{{HTTP}}}[$__rate_interval])))",
                "{{http_route}}",
            )
        ],
        unit="s",
    )
    lay.row("Model (otelml)")
    _status_stats(lay)
    lay.add(
        "timeseries",
        "Predictions per second",
        "Rows predicted (all rows), summed over processor replicas.",
        [
            target(
                f'sum(rate(otelml_predictions_total{{{M}, segment=""}}[$__rate_interval]))',
                "rows",
            )
        ],
        unit="reqps",
    )
    _latency(lay)
    _drift_timeline(lay)
    _top_drifting(lay)
    variables = [
        _datasource_variable(),
        _variable(
            "service",
            "Service",
            "label_values(http_server_request_duration_seconds_count, job)",
        ),
        *_model_variables(segment=False)[1:],
    ]
    return dashboard(
        "otelml-service-model",
        "otelml — service + model",
        "Example: a service's HTTP panels (OpenTelemetry HTTP semantic conventions) with the "
        "model it serves beside them. Copy the model row into your own service dashboards.",
        variables,
        lay,
    )


DASHBOARDS = {
    "otelml-models-overview.json": models_overview,
    "otelml-feature.json": feature_view,
    "otelml-service-model.json": service_and_model,
}


def render(doc: Json) -> str:
    """Return a dashboard as the JSON text written to disk."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    DASHBOARD_DIR.mkdir(exist_ok=True)
    for name, build in DASHBOARDS.items():
        (DASHBOARD_DIR / name).write_text(render(build()))
        print(DASHBOARD_DIR / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
