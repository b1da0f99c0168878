"""The sections of the processor's configuration: each a frozen dataclass of options.

Every option carries its default and a one-line ``help`` in the field's metadata; the README
option table is generated from them (:func:`otelml.processor.config.options_table`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


def _opt(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class TlsServerConfig:
    """TLS of one listener: off while ``cert_file`` is null."""

    cert_file: str | None = _opt(
        None, "PEM certificate (with its chain) the listener presents; null = plain text."
    )
    key_file: str | None = _opt(None, "PEM private key of cert_file (unencrypted).")
    client_ca_file: str | None = _opt(
        None,
        "PEM CA bundle; when set, every client must present a certificate it signed (mutual TLS).",
    )


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
    tls: TlsServerConfig = field(default_factory=TlsServerConfig)


@dataclass(frozen=True)
class HttpReceiverConfig:
    """OTLP/HTTP receiver."""

    enabled: bool = _opt(True, "Serve OTLP over HTTP (/v1/metrics, /v1/traces, /v1/logs).")
    endpoint: str = _opt("127.0.0.1:4318", "host:port to listen on (port 0 picks a free one).")
    max_request_body_mib: int = _opt(
        64, "Largest accepted request body, MiB, both as sent and after gunzip."
    )
    tls: TlsServerConfig = field(default_factory=TlsServerConfig)
    allowed_hosts: str | None = _opt(
        None,
        "Comma-separated Host names answered besides loopback names (421 for others); "
        "null = loopback names only when bound to loopback, any name otherwise.",
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

    max_models: int = _opt(
        100,
        "Distinct (model, version, environment) in memory; a new one beyond it takes the slot "
        "of the longest idle model without a baseline, else its data is dropped. Models with a "
        "baseline are always admitted.",
    )
    model_idle_s: int = _opt(
        86400,
        "A model without a baseline and without data for this long may be evicted from memory "
        "when a new model needs its slot, seconds.",
    )
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
    max_inflight_mib: int = _opt(
        128,
        "Request bodies held at once by both receivers together, MiB, as sent and as "
        "gunzipped; beyond it requests get 503 + Retry-After / RESOURCE_EXHAUSTED.",
    )
    idle_timeout_s: float = _opt(
        120.0,
        "Connections of every listener that carry no request for this long are closed "
        "(HTTP keep-alive, gRPC max_connection_idle), slow ones included.",
    )
    max_gzip_ratio: float = _opt(
        250.0,
        "A gzip body that expands past 1 MiB and more than this many times its size is "
        "refused as a compression bomb (413).",
    )
    max_baselines: int = _opt(
        1000, "Stored baselines, all models and versions; a new one beyond it is refused."
    )
    max_baseline_versions: int = _opt(
        20, "Stored baseline versions per model; a new one beyond it is refused."
    )
    max_future_s: int = _opt(
        3600,
        "Points, spans and log records stamped further than this in the future are refused "
        "(clock skew allowance), seconds.",
    )


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
    max_models: int = _opt(
        100,
        "Distinct models with predictions in the join; predictions of further models are "
        "dropped, counted, unless the model is known from metrics, spans or a baseline.",
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
    tls: TlsServerConfig = field(default_factory=TlsServerConfig)
    allowed_hosts: str | None = _opt(
        None,
        "Comma-separated Host names answered besides loopback names (421 for others); "
        "null = loopback names only when bound to loopback, any name otherwise.",
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


_TOKENS_HELP = (
    "Comma-separated bearer tokens (best from the environment, e.g. OTELML_AUTH__{}_TOKENS); "
    "null = none."
)
_FILE_HELP = (
    "File of bearer tokens, one per line (# comments), re-read when it changes; null = none."
)


@dataclass(frozen=True)
class AuthConfig:
    """Bearer tokens of the listeners, by scope; several per scope, for rotation.

    ingest tokens may send OTLP; read tokens may call the API's GET routes and /metrics; write
    tokens may do all of that and change state (baselines, freeze, pin, evaluate). The OTLP
    receivers require a token once ingest or write tokens are configured, the API once read or
    write tokens are; /healthz and /readyz never do.
    """

    ingest_tokens: str | None = _opt(None, _TOKENS_HELP.format("INGEST") + " OTLP only.")
    ingest_tokens_file: str | None = _opt(None, _FILE_HELP)
    read_tokens: str | None = _opt(None, _TOKENS_HELP.format("READ") + " API GET routes, /metrics.")
    read_tokens_file: str | None = _opt(None, _FILE_HELP)
    write_tokens: str | None = _opt(
        None, _TOKENS_HELP.format("WRITE") + " Everything: OTLP, API reads and writes."
    )
    write_tokens_file: str | None = _opt(None, _FILE_HELP)
    file_check_interval_s: float = _opt(
        1.0, "Seconds between checks of the token files for a change."
    )
