"""Pure numerics shared by the instrumentation and the processor.

Mergeable sketches, baselines, drift statistics and decisions, data quality, performance metrics
and confidence-based performance estimation. numpy and scipy only: no OpenTelemetry, no I/O.
"""

from otelml.stats.baseline import SCHEMA_VERSION as BASELINE_SCHEMA_VERSION
from otelml.stats.baseline import Baseline, BaselineFormatError, FeatureBaseline
from otelml.stats.baseline_builder import BaselineBuilder
from otelml.stats.categorical import CategoryCounts
from otelml.stats.cbpe import CBPEEstimator, CBPEResult, DivergenceResult, divergence
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

__all__ = [
    "BASELINE_SCHEMA_VERSION",
    "Baseline",
    "BaselineBuilder",
    "BaselineFormatError",
    "CBPEEstimator",
    "CBPEResult",
    "CategoryCounts",
    "ConfusionCounts",
    "DivergenceResult",
    "ExponentialHistogram",
    "FeatureBaseline",
    "FixedHistogram",
    "Moments",
    "PerformanceComparison",
    "ProbabilisticSums",
    "RegressionSums",
    "ScoreHistograms",
    "compare_performance",
    "divergence",
    "performance_metrics",
]
