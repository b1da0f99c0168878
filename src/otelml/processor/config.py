"""Processor configuration: one frozen object from defaults, a YAML file and ``OTELML_*`` variables.

Precedence, lowest first: defaults, the YAML file, environment variables. An environment variable
names an option by its path in upper case with ``__`` between levels and the ``OTELML_`` prefix:
``receivers.grpc.endpoint`` is ``OTELML_RECEIVERS__GRPC__ENDPOINT``. Its value is read as a YAML
scalar (``true``, ``60``, ``null``, or a string), so ``OTELML_EXPORT__OTLP__ENDPOINT=null`` turns
an option off; mappings (``evaluation.models``) take a YAML flow mapping, e.g.
``OTELML_EVALUATION__MODELS='{fraud: {window_s: 600}}'``.

:func:`load_config` collects every problem before it fails, each named by its path
(``receivers.grpc.endpoint: expected host:port, got 'x'``), and raises :class:`ConfigError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from otelml.processor.configload import build, deep_merge, env_overrides, rows, walk

ENV_PREFIX = "OTELML_"


def _opt(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class GrpcReceiverConfig:
    """OTLP/gRPC receiver."""

    enabled: bool = _opt(True, "Serve OTLP over gRPC.")
    endpoint: str = _opt("127.0.0.1:4317", "host:port to listen on (port 0 picks a free one).")
    max_recv_msg_size_mib: int = _opt(
        64,
        "Largest accepted gRPC message, MiB (gRPC's own default is 4 MiB, too small for the "
        "Collector's 8192-item batches).",
    )
    max_concurrent_streams: int = _opt(
        32, "Concurrent RPCs served (the Collector's exporter uses up to 10)."
    )


@dataclass(frozen=True)
class HttpReceiverConfig:
    """OTLP/HTTP receiver."""

    enabled: bool = _opt(True, "Serve OTLP over HTTP (/v1/metrics, /v1/traces, /v1/logs).")
    endpoint: str = _opt("127.0.0.1:4318", "host:port to listen on (port 0 picks a free one).")
    max_request_body_mib: int = _opt(
        64, "Largest accepted request body, MiB, both as sent and after gunzip."
    )


@dataclass(frozen=True)
class ReceiversConfig:
    """OTLP receivers."""

    grpc: GrpcReceiverConfig = field(default_factory=GrpcReceiverConfig)
    http: HttpReceiverConfig = field(default_factory=HttpReceiverConfig)


@dataclass(frozen=True)
class StorageConfig:
    """Durable state (SQLite, WAL)."""

    path: str | None = _opt(
        None, "SQLite file; null = otelml.db in the user's data directory (platformdirs)."
    )
    synchronous: Literal["full", "normal"] = _opt(
        "full",
        "SQLite synchronous mode. full: an acknowledged request survives power loss; normal: "
        "survives a process crash only.",
    )
    queue_size: int = _opt(
        256, "Requests waiting for the writer; when full, clients are told to retry."
    )
    max_batch: int = _opt(64, "Requests committed together in one transaction (group commit).")
    compact_interval_s: float = _opt(
        10.0, "Seconds between folding the write-ahead log into window rows."
    )
    retry_after_s: int = _opt(1, "Retry-After seconds sent with 429/503 under backpressure.")


@dataclass(frozen=True)
class StateConfig:
    """In-memory aggregation."""

    resolution_s: int = _opt(60, "Width of a resolution window, seconds (aligned to unix time).")
    retention_s: int = _opt(604800, "Windows older than this are dropped (memory and SQLite).")
    stream_ttl_s: int = _opt(
        86400, "Cumulative series not seen for this long forget their last point."
    )


@dataclass(frozen=True)
class LimitsConfig:
    """Cardinality and size caps; beyond them data is counted as overflow."""

    max_models: int = _opt(100, "Distinct (model, version, environment); more are dropped.")
    max_features_per_model: int = _opt(
        500, "Distinct features per model; more go to feature __overflow__."
    )
    max_segments_per_model: int = _opt(
        100, "Distinct segments per model; more go to segment __overflow__."
    )
    max_categories_per_feature: int = _opt(
        100, "Distinct categories per feature; more are counted under __other__."
    )
    max_attribute_length: int = _opt(
        256, "Longest accepted model/feature/segment/category string; longer points are rejected."
    )
    max_streams: int = _opt(
        200000, "Cumulative series tracked for delta conversion; points of more are dropped."
    )
    max_span_features: int = _opt(500, "ml.features.* attributes read per span.")


@dataclass(frozen=True)
class ModelEvaluationConfig:
    """Per-model evaluation overrides."""

    window_s: int | None = _opt(None, "Evaluation window for this model, seconds.")
    interval_s: int | None = _opt(None, "Evaluation interval for this model, seconds.")


@dataclass(frozen=True)
class EvaluationConfig:
    """When and over what the evaluator compares current data with baselines."""

    interval_s: int = _opt(60, "Seconds between evaluations.")
    window_s: int = _opt(3600, "Evaluation window: the last this many seconds.")
    models: dict[str, ModelEvaluationConfig] = field(
        default_factory=dict,
        metadata={"help": "Per-model overrides, by model name: {window_s, interval_s}."},
    )
    reference: Literal["auto", "baseline", "previous_window"] = _opt(
        "auto",
        "What current data is compared with: the version's baseline (else the previous "
        "window), the baseline only, or always the previous window.",
    )
    history_size: int = _opt(1440, "Evaluations kept per series for the API's feature history.")


@dataclass(frozen=True)
class DriftConfig:
    """Drift decision policy (see otelml.stats.decision.DriftPolicy)."""

    numeric_method: str | None = _opt(None, "Drift method for numeric features; null = default.")
    categorical_method: str | None = _opt(
        None, "Drift method for categorical features; null = default."
    )
    warning_threshold: float | None = _opt(
        None,
        "Effect size at or above which a feature is 'warning'; "
        "null = per-method defaults of otelml.stats.decision.",
    )
    drift_threshold: float | None = _opt(
        None,
        "Effect size at or above which a feature is 'drift'; "
        "null = per-method defaults of otelml.stats.decision.",
    )
    min_samples: int = _opt(100, "Fewer values than this: 'insufficient_data'.")
    fdr_alpha: float = _opt(0.05, "Benjamini-Hochberg false discovery rate across features.")


@dataclass(frozen=True)
class JoinsConfig:
    """Ground-truth join: predictions and actuals waiting for each other in SQLite."""

    horizon_s: int = _opt(
        1209600,
        "Predictions (and actuals that came first) wait this long for each other, seconds "
        "(14 days); then they expire, counted.",
    )
    max_pending: int = _opt(
        5000000, "Predictions waiting for an actual; beyond it the oldest expire, counted."
    )
    max_pending_actuals: int = _opt(
        1000000, "Actuals waiting for their prediction; beyond it the oldest expire, counted."
    )
    max_joined: int = _opt(
        5000000,
        "Joined predictions kept so that a later duplicate actual can replace the first one's "
        "contribution; the oldest beyond it are forgotten.",
    )
    queue_size: int = _opt(
        256, "Log requests waiting for the join's writer; when full, clients are told to retry."
    )
    expire_interval_s: float = _opt(60.0, "Seconds between expiry passes.")


@dataclass(frozen=True)
class PerformanceConfig:
    """Model performance from joined actuals, and estimated without them (CBPE)."""

    resolution_s: int = _opt(
        3600, "Width of a performance window, seconds, by the time the prediction was made."
    )
    window_s: int = _opt(
        86400,
        "Evaluation window of the performance gauges: predictions made in the last this many "
        "seconds (labels arrive late, so longer than the drift window).",
    )
    retention_s: int = _opt(
        2592000, "Performance windows older than this are dropped (the counters keep counting)."
    )
    threshold: float = _opt(
        0.5,
        "Binary classifiers: a score above it predicts the positive label when the record has "
        "no label; CBPE's decision threshold.",
    )
    positive_label: str = _opt("1", "Positive label of binary classifiers (true reads as 1).")
    positive_labels: dict[str, str] = field(
        default_factory=dict,
        metadata={"help": "Per-model positive labels, by model name."},
    )
    min_labels: int = _opt(
        100, "Fewer labelled predictions in the window: status -1 (insufficient data)."
    )
    abs_tolerance: float = _opt(
        0.05,
        "A bounded metric (accuracy, F1, AUC, ...) this much worse than the baseline's "
        "is degraded.",
    )
    rel_tolerance: float = _opt(
        0.1,
        "An error metric (MAE, RMSE, MAPE, log loss) this share worse than the baseline's "
        "is degraded.",
    )
    cbpe: bool = _opt(
        True,
        "Estimate binary classifiers' performance without labels (CBPE) when the baseline has "
        "labelled reference scores.",
    )
    divergence_k: float = _opt(
        3.0, "Realised and CBPE-estimated metrics diverge beyond k standard errors + floor."
    )
    divergence_floor: float = _opt(0.02, "Absolute slack of the divergence bound.")

    def positive_label_of(self, model: str) -> str:
        """Return the positive label of ``model``'s binary classifier."""
        return self.positive_labels.get(model, self.positive_label)


@dataclass(frozen=True)
class BaselinesConfig:
    """Where baselines come from besides the HTTP API."""

    directory: str | None = _opt(None, "Directory polled for *.json baselines; null = off.")
    poll_interval_s: float = _opt(30.0, "Seconds between polls of baselines.directory.")


@dataclass(frozen=True)
class PrometheusExportConfig:
    """Prometheus /metrics, JSON API, /healthz and /readyz."""

    enabled: bool = _opt(True, "Serve /metrics, /api and health endpoints.")
    endpoint: str = _opt("127.0.0.1:9464", "host:port to listen on (port 0 picks a free one).")
    bin_share: bool = _opt(
        True,
        "Serve otelml_feature_bin_share on /metrics (2 samples per bin and series: most of "
        "the body); the JSON API and the OTLP push keep the shares.",
    )
    quality_gauges: bool = _opt(
        True,
        "Serve otelml_feature_quality_ratio and otelml_feature_quality_baseline_ratio on "
        "/metrics (6 issues per series each); the JSON API and the OTLP push keep them.",
    )


@dataclass(frozen=True)
class OtlpExportConfig:
    """OTLP metrics push of the processor's results."""

    endpoint: str | None = _opt(None, "OTLP endpoint to push to; null = off.")
    protocol: Literal["grpc", "http"] = _opt("grpc", "OTLP transport.")
    interval_s: int = _opt(60, "Seconds between pushes.")
    timeout_s: float = _opt(10.0, "Timeout of one push, seconds.")


@dataclass(frozen=True)
class ExportConfig:
    """Exports of the processor's results."""

    prometheus: PrometheusExportConfig = field(default_factory=PrometheusExportConfig)
    otlp: OtlpExportConfig = field(default_factory=OtlpExportConfig)
    max_series: int = _opt(100000, "Exported series per metric; more are labelled __overflow__.")


@dataclass(frozen=True)
class ProcessorConfig:
    """Everything ``otelml serve`` can be told."""

    receivers: ReceiversConfig = field(default_factory=ReceiversConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    state: StateConfig = field(default_factory=StateConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)
    joins: JoinsConfig = field(default_factory=JoinsConfig)
    performance: PerformanceConfig = field(default_factory=PerformanceConfig)
    export: ExportConfig = field(default_factory=ExportConfig)

    def validate(self) -> list[str]:
        """Return every semantic problem, each prefixed by its option path (empty when fine)."""
        errors: list[str] = []
        for path, value in walk(self):
            name = path.rsplit(".", 1)[-1]
            if name == "endpoint" and value is not None and _endpoint_error(value):
                errors.append(f"{path}: {_endpoint_error(value)}")
            elif (
                (name.endswith(("_s", "_mib", "_size")) or name.startswith("max_"))
                and value is not None
                and not value > 0
            ):
                errors.append(f"{path}: must be > 0, got {value!r}")
        if self.state.retention_s < self.state.resolution_s:
            errors.append(
                "state.retention_s: must be >= state.resolution_s "
                f"({self.state.resolution_s}), got {self.state.retention_s}"
            )
        if self.evaluation.window_s < self.state.resolution_s:
            errors.append(
                "evaluation.window_s: must be >= state.resolution_s "
                f"({self.state.resolution_s}), got {self.evaluation.window_s}"
            )
        if not 0 < self.drift.fdr_alpha < 1:
            errors.append(f"drift.fdr_alpha: must be in (0, 1), got {self.drift.fdr_alpha}")
        perf = self.performance
        if not perf.resolution_s <= perf.window_s <= perf.retention_s:
            errors.append(
                "performance.window_s: must lie between performance.resolution_s "
                f"({perf.resolution_s}) and performance.retention_s ({perf.retention_s}), "
                f"got {perf.window_s}"
            )
        if not 0 < perf.threshold < 1:
            errors.append(f"performance.threshold: must be in (0, 1), got {perf.threshold}")
        if perf.min_labels < 1:
            errors.append(f"performance.min_labels: must be >= 1, got {perf.min_labels}")
        errors.extend(
            f"performance.{name}: must be >= 0, got {getattr(perf, name)}"
            for name in ("abs_tolerance", "rel_tolerance", "divergence_k", "divergence_floor")
            if getattr(perf, name) < 0
        )
        warn, drift = self.drift.warning_threshold, self.drift.drift_threshold
        if warn is not None and drift is not None and warn > drift:
            errors.append("drift.warning_threshold: must be <= drift.drift_threshold")
        return errors

    def db_path(self) -> Path:
        """Return the SQLite path: the configured one, or one in the user's data directory."""
        if self.storage.path:
            return Path(self.storage.path).expanduser()
        import platformdirs

        return Path(platformdirs.user_data_dir("otelml")) / "otelml.db"

    def model_window_s(self, model: str) -> int:
        """Return the evaluation window of ``model`` (its override, else the default)."""
        override = self.evaluation.models.get(model)
        if override is not None and override.window_s is not None:
            return override.window_s
        return self.evaluation.window_s

    def model_interval_s(self, model: str) -> int:
        """Return the evaluation interval of ``model`` (its override, else the default)."""
        override = self.evaluation.models.get(model)
        if override is not None and override.interval_s is not None:
            return override.interval_s
        return self.evaluation.interval_s


class ConfigError(ValueError):
    """Invalid configuration; ``errors`` lists each problem with its option path."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("invalid configuration:\n  " + "\n  ".join(errors))


def _endpoint_error(value: str) -> str | None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        return f"expected host:port, got {value!r}"
    return None


def config_from_dict(data: Mapping[str, Any] | None) -> ProcessorConfig:
    """Return a validated config from plain data; raise :class:`ConfigError` listing problems."""
    errors: list[str] = []
    config: ProcessorConfig = build(ProcessorConfig, data or {}, "", errors)
    errors.extend(config.validate())
    if errors:
        raise ConfigError(errors)
    return config


def load_config(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> ProcessorConfig:
    """Return the config from defaults, the YAML file at ``path`` and ``OTELML_*`` variables."""
    import yaml

    errors: list[str] = []
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError([f"{path}: {exc}"]) from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError([f"{path}: expected a mapping at the top level"])
        data = loaded or {}
    env = env_overrides(os.environ if environ is None else environ, errors, ENV_PREFIX)
    data = deep_merge(data, env)
    try:
        config = config_from_dict(data)
    except ConfigError as exc:
        errors.extend(exc.errors)
    if errors:
        raise ConfigError(errors)
    return config


def options_table() -> str:
    """Return the Markdown table of every option: path, environment variable, default, meaning."""
    lines = [
        "| option | environment variable | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for path, default, help_text in rows(ProcessorConfig, ""):
        env = ENV_PREFIX + path.upper().replace(".", "__")
        lines.append(f"| `{path}` | `{env}` | `{default}` | {help_text} |")
    return "\n".join(lines) + "\n"
