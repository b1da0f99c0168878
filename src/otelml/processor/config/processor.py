"""The whole configuration of ``otelml serve``: its sections, their validation, derived values."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from otelml.processor.config.checks import auth_errors, tls_errors
from otelml.processor.config.sections import (
    AuthConfig,
    BaselinesConfig,
    DriftConfig,
    EvaluationConfig,
    ExportConfig,
    JoinsConfig,
    LimitsConfig,
    PerformanceConfig,
    ReceiversConfig,
    StateConfig,
    StorageConfig,
)
from otelml.processor.configload import walk


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
    auth: AuthConfig = field(default_factory=AuthConfig)

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
        errors.extend(tls_errors("receivers.grpc.tls", self.receivers.grpc.tls))
        errors.extend(tls_errors("receivers.http.tls", self.receivers.http.tls))
        errors.extend(tls_errors("export.prometheus.tls", self.export.prometheus.tls))
        errors.extend(auth_errors(self.auth))
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


def _endpoint_error(value: str) -> str | None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        return f"expected host:port, got {value!r}"
    return None
