"""Processor configuration: one frozen object from defaults, a YAML file and ``OTELML_*`` variables.

Precedence, lowest first: defaults, the YAML file, environment variables. An environment variable
names an option by its path in upper case with ``__`` between levels and the ``OTELML_`` prefix:
``receivers.grpc.endpoint`` is ``OTELML_RECEIVERS__GRPC__ENDPOINT``. Its value is read as a YAML
scalar (``true``, ``60``, ``null``, or a string), so ``OTELML_EXPORT__OTLP__ENDPOINT=null`` turns
an option off; mappings (``evaluation.models``) take a YAML flow mapping, e.g.
``OTELML_EVALUATION__MODELS='{fraud: {window_s: 600}}'``.

:func:`load_config` collects every problem before it fails, each named by its path
(``receivers.grpc.endpoint: expected host:port, got 'x'``), and raises :class:`ConfigError`.

The sections are in ``sections``, the whole with its validation in ``processor``, loading and
the documentation's option table in ``load``; every name is importable from here.
"""

from __future__ import annotations

from otelml.processor.config.load import (
    ENV_PREFIX,
    ConfigError,
    config_from_dict,
    load_config,
    options_table,
)
from otelml.processor.config.processor import ProcessorConfig
from otelml.processor.config.sections import (
    AuthConfig,
    BaselinesConfig,
    DriftConfig,
    EvaluationConfig,
    ExportConfig,
    GrpcReceiverConfig,
    HttpReceiverConfig,
    JoinsConfig,
    LimitsConfig,
    ModelEvaluationConfig,
    OtlpExportConfig,
    PerformanceConfig,
    PrometheusExportConfig,
    ReceiversConfig,
    StateConfig,
    StorageConfig,
    TlsServerConfig,
)

__all__ = [
    "ENV_PREFIX",
    "AuthConfig",
    "BaselinesConfig",
    "ConfigError",
    "DriftConfig",
    "EvaluationConfig",
    "ExportConfig",
    "GrpcReceiverConfig",
    "HttpReceiverConfig",
    "JoinsConfig",
    "LimitsConfig",
    "ModelEvaluationConfig",
    "OtlpExportConfig",
    "PerformanceConfig",
    "ProcessorConfig",
    "PrometheusExportConfig",
    "ReceiversConfig",
    "StateConfig",
    "StorageConfig",
    "TlsServerConfig",
    "config_from_dict",
    "load_config",
    "options_table",
]
