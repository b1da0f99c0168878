"""The catalogue of every metric the processor emits.

:data:`METRICS` lists the same metrics as ``collector/metadata.yaml`` (a test holds them equal);
their shape, and that of one collection's points, is in :mod:`otelml.processor.export.shapes`.
"""

from __future__ import annotations

from otelml.processor.export.shapes import MetricDef, MetricType

_F = ("model", "version", "environment", "feature", "segment")
_M = ("model", "version", "environment")
_P = ("model", "version", "environment", "segment")


def _d(name: str, type_: MetricType, unit: str, labels: tuple[str, ...], help_: str) -> MetricDef:
    return MetricDef(name, type_, unit, labels, help_)


METRICS: tuple[MetricDef, ...] = (
    _d(
        "otelml_feature_values",
        "histogram",
        "1",
        _F,
        "Values of a numeric feature (feature __prediction__: the model output) received since "
        "start of retention, on the baseline's bin edges.",
    ),
    _d(
        "otelml_feature_bin_share",
        "gauge",
        "1",
        (*_F, "bin", "le", "source"),
        "Share of the evaluation window's values in each bin (source=current) and the "
        "reference's share in the same bin (source=baseline); categorical bins are categories.",
    ),
    _d(
        "otelml_feature_drift_score",
        "gauge",
        "1",
        (*_F, "method"),
        "Drift statistic of the feature's evaluation window against its reference.",
    ),
    _d(
        "otelml_feature_drift_pvalue",
        "gauge",
        "1",
        (*_F, "method"),
        "p-value of the drift test (absent when the method has none).",
    ),
    _d(
        "otelml_feature_drift_effect_size",
        "gauge",
        "1",
        _F,
        "Sample-size-free magnitude of the drift.",
    ),
    _d(
        "otelml_feature_drift_status",
        "gauge",
        "1",
        _F,
        "Drift status: 0 ok, 1 warning, 2 drift, -1 insufficient data.",
    ),
    _d(
        "otelml_feature_drift_weighted_score",
        "gauge",
        "1",
        _F,
        "Drift effect size over its method's drift threshold, times the feature's importance "
        "(1 when unknown): one scale across methods, for ranking (topk).",
    ),
    _d(
        "otelml_feature_quality_ratio",
        "gauge",
        "1",
        (*_F, "issue"),
        "Share of the evaluation window's rows with a data-quality issue.",
    ),
    _d(
        "otelml_feature_quality_baseline_ratio",
        "gauge",
        "1",
        (*_F, "issue"),
        "Share of the reference's rows with a data-quality issue.",
    ),
    _d(
        "otelml_feature_missing_total",
        "counter",
        "{value}",
        _F,
        "Rows in which the feature was absent or None.",
    ),
    _d(
        "otelml_feature_invalid_total",
        "counter",
        "{value}",
        (*_F, "issue"),
        "Feature values that were NaN, infinite or of the wrong type.",
    ),
    _d(
        "otelml_feature_category_total",
        "counter",
        "{value}",
        (*_F, "category"),
        "Occurrences of each category of a categorical feature (capped; rest in __other__).",
    ),
    _d(
        "otelml_prediction_drift_score",
        "gauge",
        "1",
        (*_P, "method"),
        "Drift statistic of the model output distribution against its reference.",
    ),
    _d(
        "otelml_prediction_drift_status",
        "gauge",
        "1",
        _P,
        "Prediction drift status: 0 ok, 1 warning, 2 drift, -1 insufficient data.",
    ),
    _d("otelml_predictions_total", "counter", "{prediction}", _P, "Rows predicted."),
    _d(
        "otelml_model_status",
        "gauge",
        "1",
        _M,
        "Worst status over the model's features and prediction (same coding).",
    ),
    _d(
        "otelml_model_features_drifted",
        "gauge",
        "{feature}",
        _M,
        "Features whose status is drift in the latest evaluation.",
    ),
    _d(
        "otelml_model_window_rows",
        "gauge",
        "{row}",
        _M,
        "Rows predicted in the latest evaluation window (volume).",
    ),
    _d(
        "otelml_model_evaluation_timestamp_seconds",
        "gauge",
        "s",
        _M,
        "Unix time of the model's latest evaluation.",
    ),
    _d(
        "otelml_model_baseline_info",
        "gauge",
        "1",
        ("model", "version", "baseline_version", "fallback", "reference"),
        "1 per model version: the baseline version used, whether it is an earlier version's "
        "(fallback), and the reference kind (baseline, previous_window, none).",
    ),
    _d(
        "otelml_performance_confusion_total",
        "counter",
        "{prediction}",
        (*_P, "actual", "predicted"),
        "Joined predictions by actual and predicted label, cumulative over prediction time "
        "(a duplicate actual adds its own count; the gauges apply the last one).",
    ),
    _d(
        "otelml_performance_predictions_labeled_total",
        "counter",
        "{prediction}",
        _P,
        "Predictions joined to an actual, cumulative over prediction time.",
    ),
    _d(
        "otelml_performance_predictions_total",
        "counter",
        "{prediction}",
        _P,
        "Predictions received as ml.prediction log records (the join's denominator).",
    ),
    _d(
        "otelml_performance_abs_error_sum_total",
        "counter",
        "1",
        _P,
        "Regression: sum of |actual - predicted| over joined predictions.",
    ),
    _d(
        "otelml_performance_squared_error_sum_total",
        "counter",
        "1",
        _P,
        "Regression: sum of (actual - predicted)^2 over joined predictions.",
    ),
    _d(
        "otelml_performance_logloss_sum_total",
        "counter",
        "1",
        _P,
        "Classification: sum of log loss over joined predictions with scores.",
    ),
    _d(
        "otelml_performance_brier_sum_total",
        "counter",
        "1",
        _P,
        "Classification: sum of Brier loss (scikit-learn's scale) over joined predictions with "
        "scores.",
    ),
    _d(
        "otelml_performance_score",
        "histogram",
        "1",
        (*_P, "actual"),
        "Binary classification: positive-class scores of joined predictions by actual label, "
        "on 20 uniform bins (ROC / PR curves by recording rules).",
    ),
    _d(
        "otelml_performance_metric",
        "gauge",
        "1",
        (*_P, "metric"),
        "Realised performance of the predictions made in the performance window that have an "
        "actual so far.",
    ),
    _d(
        "otelml_performance_estimated",
        "gauge",
        "1",
        (*_P, "metric"),
        "Performance of all the window's predictions estimated without labels (CBPE; binary "
        "classifiers whose baseline has labelled reference scores).",
    ),
    _d(
        "otelml_performance_baseline",
        "gauge",
        "1",
        (*_P, "metric"),
        "Reference performance of the model version's baseline.",
    ),
    _d(
        "otelml_performance_status",
        "gauge",
        "1",
        _P,
        "Performance status: 0 ok, 1 degraded, -1 insufficient data (too few labels or no "
        "reference).",
    ),
    _d(
        "otelml_performance_estimate_divergence",
        "gauge",
        "1",
        (*_P, "metric"),
        "1 when the realised metric leaves the CBPE estimate's bound for the same labelled "
        "predictions (the estimate is not valid: concept drift), else 0.",
    ),
    _d(
        "otelml_label_coverage_ratio",
        "gauge",
        "1",
        _P,
        "Share of the performance window's predictions that have an actual so far.",
    ),
    _d(
        "otelml_label_delay_seconds",
        "histogram",
        "s",
        _M,
        "Time from a prediction to its actual, for joined predictions.",
    ),
    _d(
        "otelml_actuals_total",
        "counter",
        "{actual}",
        ("model", "outcome"),
        "Actuals by what happened: joined, pending (waited for its prediction), duplicate "
        "(replaced an earlier actual), rejected, expired (waited past the horizon or the size "
        "bound).",
    ),
    _d(
        "otelml_predictions_pending",
        "gauge",
        "{prediction}",
        ("model",),
        "Predictions waiting for an actual.",
    ),
    _d(
        "otelml_actuals_pending",
        "gauge",
        "{actual}",
        ("model",),
        "Actuals waiting for their prediction.",
    ),
    _d(
        "otelml_predictions_expired_total",
        "counter",
        "{prediction}",
        ("model",),
        "Predictions that expired without an actual (horizon or size bound).",
    ),
    _d(
        "otelml_join_rejected_total",
        "counter",
        "{record}",
        ("event", "reason"),
        "ml.prediction / ml.actual records refused by the join, by reason (unknown_model, "
        "malformed_value, malformed_record, too_long, incompatible_actual, too_many_models).",
    ),
    _d(
        "otelml_processor_received_total",
        "counter",
        "{item}",
        ("signal",),
        "Items (metric points, spans, log records) received.",
    ),
    _d(
        "otelml_processor_accepted_total",
        "counter",
        "{item}",
        ("signal",),
        "Items acknowledged to the client.",
    ),
    _d(
        "otelml_processor_rejected_total",
        "counter",
        "{item}",
        ("signal", "reason"),
        "Items refused, by reason.",
    ),
    _d(
        "otelml_processor_overflow_total",
        "counter",
        "{item}",
        ("limit",),
        "Items relabelled __overflow__ or dropped by a cardinality cap, by limit.",
    ),
    _d(
        "otelml_processor_quarantined_total",
        "counter",
        "{row}",
        ("table",),
        "Stored rows that could not be loaded at start-up, moved to otelml_quarantine, by table.",
    ),
    _d(
        "otelml_processor_events_total",
        "counter",
        "{record}",
        ("event",),
        "otelml log events received, by event name.",
    ),
    _d(
        "otelml_processor_evaluation_duration_seconds",
        "histogram",
        "s",
        (),
        "Wall time of one evaluation run over every model due.",
    ),
    _d(
        "otelml_processor_queue_depth",
        "gauge",
        "{request}",
        (),
        "Requests waiting for the storage writer.",
    ),
    _d("otelml_processor_db_size_bytes", "gauge", "By", (), "Size of the SQLite database."),
)
"""Every metric the processor emits."""

METRICS_BY_NAME = {m.name: m for m in METRICS}
