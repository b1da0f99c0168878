"""The otelml telemetry contract: every attribute, metric and log event name, in one place.

No OpenTelemetry semantic convention covers classical ML inference yet, so otelml defines an
``ml.*`` namespace of its own. The instrumentation emits exactly these names, the processor reads
exactly these names, and ``docs/telemetry.md`` documents them in one table; tests hold all three
equal. Names follow the OTel naming rules (lower-case, dot-separated namespaces, units in UCUM).

Nothing here imports OpenTelemetry: this module is plain data, shared by both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

SCHEMA_VERSION: Final = "0.1"
"""Version of this contract, carried as the instrumentation scope's schema version."""

INSTRUMENTATION_SCOPE: Final = "otelml"
"""Name of the tracer, meter and logger that the instrumentation uses."""

# --------------------------------------------------------------------------------------------
# Attributes
# --------------------------------------------------------------------------------------------

MODEL_NAME: Final = "ml.model.name"
"""Model name, e.g. ``fraud``. On every span, metric point and log record."""
MODEL_VERSION: Final = "ml.model.version"
"""Model version, e.g. ``3.2.0``. On every span, metric point and log record."""
MODEL_TASK: Final = "ml.model.task"
"""One of :data:`TASKS`. On spans and prediction log records."""
ENVIRONMENT: Final = "ml.environment"
"""One of :data:`ENVIRONMENTS`. On every span, metric point and log record."""
FEATURE_NAME: Final = "ml.feature.name"
"""Feature name on per-feature metric points."""
FEATURE_CATEGORY: Final = "ml.feature.category"
"""A (capped) category value on ``ml.feature.category.count`` points."""
QUALITY_ISSUE: Final = "ml.quality.issue"
"""One of :data:`QUALITY_ISSUES` on ``ml.feature.invalid`` points."""
SEGMENT: Final = "ml.segment"
"""Segment key on metric points: ``country=US,device=ios`` (sorted by name); empty for all."""
SEGMENT_PREFIX: Final = "ml.segments."
"""Prefix of per-segment-column attributes on spans and log records: ``ml.segments.country``.

Plural, so that a dynamic column name never collides with a fixed attribute name."""
FEATURE_PREFIX: Final = "ml.features."
"""Prefix of feature-value attributes on spans: ``ml.features.amount`` (opt-in, may be masked).

Plural, so that a feature called ``name`` never collides with :data:`FEATURE_NAME`."""
BATCH_SIZE: Final = "ml.batch.size"
"""Rows in one predict call, on spans."""
PREDICTION_ID: Final = "ml.prediction.id"
"""Prediction id: a string on log records and single-row spans."""
PREDICTION_IDS: Final = "ml.prediction.ids"
"""Prediction ids of a batch, a string array on spans (truncated, see the instrumentation)."""
PREDICTION_VALUE: Final = "ml.prediction.value"
"""Numeric output: regression value, or the positive-class score of a binary classifier."""
PREDICTION_LABEL: Final = "ml.prediction.label"
"""Predicted class label, as a string."""
PREDICTION_SCORES: Final = "ml.prediction.scores"
"""Class probabilities of a multiclass prediction, a float array on log records."""
PREDICTION_CLASSES: Final = "ml.prediction.classes"
"""Class labels matching :data:`PREDICTION_SCORES`, a string array on log records."""
PREDICTION_OUTPUT: Final = "ml.prediction.output"
"""Which output a prediction metric point describes: ``value`` or ``label``."""
ACTUAL_VALUE: Final = "ml.actual.value"
"""Ground truth for regression (numeric) on ``ml.actual`` log records."""
ACTUAL_LABEL: Final = "ml.actual.label"
"""Ground truth class label (string) on ``ml.actual`` log records."""
PREDICTION_TIME: Final = "ml.prediction.time_unix_nano"
"""When the prediction was made, on ``ml.prediction`` records (the record time may differ)."""
AGGREGATED: Final = "ml.telemetry.aggregated"
"""True on spans whose process also exports otelml's feature metrics.

The processor takes feature distributions from span attributes only from spans without this
flag (apps that emit spans alone), so the same prediction is never counted twice.
"""
ERROR_KIND: Final = "otelml.error.kind"
"""Kind of an internal instrumentation error on ``otelml.instrumentation.errors``."""

# --------------------------------------------------------------------------------------------
# Enumerations
# --------------------------------------------------------------------------------------------

Environment = Literal["production", "training", "validation", "shadow"]
ENVIRONMENTS: Final[tuple[str, ...]] = ("production", "training", "validation", "shadow")
DEFAULT_ENVIRONMENT: Final = "production"

Task = Literal["binary_classification", "multiclass_classification", "regression", "other"]
TASKS: Final[tuple[str, ...]] = (
    "binary_classification",
    "multiclass_classification",
    "regression",
    "other",
)

QualityIssue = Literal["missing", "nan", "inf", "type_mismatch"]
QUALITY_ISSUES: Final[tuple[str, ...]] = ("nan", "inf", "type_mismatch")
"""Values of :data:`QUALITY_ISSUE`; ``missing`` has a counter of its own."""

OTHER_CATEGORY: Final = "__other__"
"""Bucket that category values beyond a cap are counted in."""
OVERFLOW_VALUE: Final = "__overflow__"
"""Label value that stands for every value beyond a cardinality cap (features, segments)."""
REDACTED: Final = "__REDACTED__"
"""Replacement for a masked feature value on spans."""

# --------------------------------------------------------------------------------------------
# Metrics emitted by the instrumentation
# --------------------------------------------------------------------------------------------

InstrumentKind = Literal["histogram", "exponential_histogram", "counter", "gauge"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric of the contract: its name, kind, unit, attributes and meaning."""

    name: str
    kind: InstrumentKind
    unit: str
    attributes: tuple[str, ...]
    description: str


_MODEL_ATTRS: Final = (MODEL_NAME, MODEL_VERSION, ENVIRONMENT)
_FEATURE_ATTRS: Final = (*_MODEL_ATTRS, FEATURE_NAME, SEGMENT)

FEATURE_VALUES: Final = MetricSpec(
    "ml.feature.values",
    "histogram",
    "1",
    _FEATURE_ATTRS,
    "Distribution of a numeric feature's finite values. Explicit buckets on the baseline's bin "
    "edges when the model has a baseline, base-2 exponential buckets otherwise.",
)
FEATURE_CATEGORY_COUNT: Final = MetricSpec(
    "ml.feature.category.count",
    "counter",
    "{value}",
    (*_FEATURE_ATTRS, FEATURE_CATEGORY),
    "Occurrences of each value of a categorical feature; values beyond the cap are counted "
    "under '__other__'.",
)
FEATURE_MISSING: Final = MetricSpec(
    "ml.feature.missing",
    "counter",
    "{value}",
    _FEATURE_ATTRS,
    "Rows in which the feature was absent or None.",
)
FEATURE_INVALID: Final = MetricSpec(
    "ml.feature.invalid",
    "counter",
    "{value}",
    (*_FEATURE_ATTRS, QUALITY_ISSUE),
    "Feature values that were NaN, infinite, or of the wrong type for the feature's kind.",
)
PREDICTION_VALUES: Final = MetricSpec(
    "ml.prediction.values",
    "histogram",
    "1",
    (*_MODEL_ATTRS, SEGMENT),
    "Distribution of numeric model outputs (regression value or positive-class score).",
)
PREDICTION_LABEL_COUNT: Final = MetricSpec(
    "ml.prediction.label.count",
    "counter",
    "{prediction}",
    (*_MODEL_ATTRS, SEGMENT, PREDICTION_LABEL),
    "Predicted class labels (capped like categories).",
)
PREDICTION_COUNT: Final = MetricSpec(
    "ml.prediction.count",
    "counter",
    "{prediction}",
    (*_MODEL_ATTRS, SEGMENT),
    "Rows predicted.",
)
PREDICT_DURATION: Final = MetricSpec(
    "ml.predict.duration",
    "histogram",
    "s",
    _MODEL_ATTRS,
    "Wall time of one predict call, whatever its batch size.",
)
INSTRUMENTATION_ERRORS: Final = MetricSpec(
    "otelml.instrumentation.errors",
    "counter",
    "{error}",
    (ERROR_KIND,),
    "Errors inside otelml's own instrumentation, swallowed so the model was not affected.",
)
INSTRUMENTATION_DROPPED: Final = MetricSpec(
    "otelml.instrumentation.dropped",
    "counter",
    "{record}",
    (ERROR_KIND,),
    "Log records or metric points dropped because a bounded queue was full.",
)

INSTRUMENTATION_METRICS: Final[tuple[MetricSpec, ...]] = (
    FEATURE_VALUES,
    FEATURE_CATEGORY_COUNT,
    FEATURE_MISSING,
    FEATURE_INVALID,
    PREDICTION_VALUES,
    PREDICTION_LABEL_COUNT,
    PREDICTION_COUNT,
    PREDICT_DURATION,
    INSTRUMENTATION_ERRORS,
    INSTRUMENTATION_DROPPED,
)

# --------------------------------------------------------------------------------------------
# Spans and log events
# --------------------------------------------------------------------------------------------

SPAN_NAME_TEMPLATE: Final = "predict {model}"
"""Name of the span per predict call (kind INTERNAL)."""

PREDICTION_EVENT: Final = "ml.prediction"
"""Event name of the log record emitted per prediction when ground truth is expected."""
ACTUAL_EVENT: Final = "ml.actual"
"""Event name of the log record emitted per actual by ``record_actuals``."""

SPAN_ATTRIBUTES: Final[tuple[str, ...]] = (
    MODEL_NAME,
    MODEL_VERSION,
    MODEL_TASK,
    ENVIRONMENT,
    BATCH_SIZE,
    PREDICTION_ID,
    PREDICTION_IDS,
    PREDICTION_VALUE,
    PREDICTION_LABEL,
    AGGREGATED,
)
"""Fixed span attributes; ``ml.features.<name>`` and ``ml.segments.<name>`` come on top."""

PREDICTION_EVENT_ATTRIBUTES: Final[tuple[str, ...]] = (
    MODEL_NAME,
    MODEL_VERSION,
    MODEL_TASK,
    ENVIRONMENT,
    PREDICTION_ID,
    PREDICTION_VALUE,
    PREDICTION_LABEL,
    PREDICTION_SCORES,
    PREDICTION_CLASSES,
    PREDICTION_TIME,
)
"""Attributes of ``ml.prediction`` log records; ``ml.segments.<name>`` come on top."""

ACTUAL_EVENT_ATTRIBUTES: Final[tuple[str, ...]] = (
    MODEL_NAME,
    MODEL_VERSION,
    PREDICTION_ID,
    ACTUAL_VALUE,
    ACTUAL_LABEL,
)
"""Attributes of ``ml.actual`` log records (``ml.model.version`` optional)."""


def span_name(model: str) -> str:
    """Return the span name for a predict call of ``model``."""
    return SPAN_NAME_TEMPLATE.format(model=model)


def feature_attribute(feature: str) -> str:
    """Return the span attribute key that carries a feature's value."""
    return FEATURE_PREFIX + feature


def segment_attribute(column: str) -> str:
    """Return the span/log attribute key that carries a segment column's value."""
    return SEGMENT_PREFIX + column


def segment_key(values: dict[str, str]) -> str:
    """Return the ``ml.segment`` metric attribute for segment column values (sorted, stable)."""
    return ",".join(f"{k}={values[k]}" for k in sorted(values))
