"""Pure numerics shared by the instrumentation and the processor.

Mergeable sketches, baselines, drift statistics and decisions, data quality, performance metrics
and confidence-based performance estimation. numpy and scipy only: no OpenTelemetry, no I/O.
"""

from otelml.stats.baseline import SCHEMA_VERSION as BASELINE_SCHEMA_VERSION
from otelml.stats.baseline import Baseline, BaselineFormatError, FeatureBaseline
from otelml.stats.baseline_builder import BaselineBuilder
from otelml.stats.categorical import CategoryCounts
from otelml.stats.cbpe import CBPEEstimator, CBPEResult, DivergenceResult, divergence
from otelml.stats.compare import DEFAULT_METHODS, compare, compare_many
from otelml.stats.decision import (
    DEFAULT_THRESHOLDS,
    STATUS_CODES,
    DriftPolicy,
    FeatureStatus,
    benjamini_hochberg,
    decide,
    model_status,
    rank_features,
)
from otelml.stats.drift import (
    METHODS,
    DriftResult,
    chi_square,
    g_test,
    hellinger,
    jensen_shannon,
    kl_divergence,
    ks_binned,
    psi,
    wasserstein_binned,
)
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram
from otelml.stats.moments import Moments
from otelml.stats.performance import (
    ConfusionCounts,
    PerformanceComparison,
    ProbabilisticSums,
    RegressionSums,
    ScoreHistograms,
    compare_performance,
    performance_metrics,
)
from otelml.stats.quality import QualityIssue, QualityPolicy, QualityReport, quality_report

__all__ = [
    "BASELINE_SCHEMA_VERSION",
    "DEFAULT_METHODS",
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "STATUS_CODES",
    "Baseline",
    "BaselineBuilder",
    "BaselineFormatError",
    "CBPEEstimator",
    "CBPEResult",
    "CategoryCounts",
    "ConfusionCounts",
    "DivergenceResult",
    "DriftPolicy",
    "DriftResult",
    "ExponentialHistogram",
    "FeatureBaseline",
    "FeatureStatus",
    "FixedHistogram",
    "Moments",
    "PerformanceComparison",
    "ProbabilisticSums",
    "QualityIssue",
    "QualityPolicy",
    "QualityReport",
    "RegressionSums",
    "ScoreHistograms",
    "benjamini_hochberg",
    "chi_square",
    "compare",
    "compare_many",
    "compare_performance",
    "decide",
    "divergence",
    "g_test",
    "hellinger",
    "jensen_shannon",
    "kl_divergence",
    "ks_binned",
    "model_status",
    "performance_metrics",
    "psi",
    "quality_report",
    "rank_features",
    "wasserstein_binned",
]
