"""Loading the configuration: defaults, a YAML file and ``OTELML_*`` variables, errors by path.

Also the option table of the documentation, since it names each option's environment variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from otelml.processor.config.processor import ProcessorConfig
from otelml.processor.configload import build, deep_merge, env_overrides, rows

ENV_PREFIX = "OTELML_"


class ConfigError(ValueError):
    """Invalid configuration; ``errors`` lists each problem with its option path."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("invalid configuration:\n  " + "\n  ".join(errors))


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
