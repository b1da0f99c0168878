"""Decorator configuration: arguments > ``OTELML_*`` / ``OTEL_*`` environment > defaults.

Everything is validated when the decorator is applied, so a typo fails at import time with a
message naming the parameter, never at predict time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from otelml import semconv


class ConfigError(ValueError):
    """An otelml option has an invalid value; the message names the option."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """Return the boolean environment variable ``name`` (``true``/``false``/``1``/``0``)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"environment variable {name}={raw!r}: expected true or false")


def env_int(name: str, default: int, *, minimum: int = 1) -> int:
    """Return the integer environment variable ``name`` (at least ``minimum``)."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r}: expected an integer") from None
    if value < minimum:
        raise ConfigError(f"environment variable {name}={raw!r}: must be >= {minimum}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    """Return the number in environment variable ``name`` (at least ``minimum``)."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r}: expected a number") from None
    if not value >= minimum:
        raise ConfigError(f"environment variable {name}={raw!r}: must be >= {minimum}")
    return value


def env_list(name: str) -> tuple[str, ...] | None:
    """Return the comma-separated environment variable ``name`` as names, or None if unset."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def sdk_disabled() -> bool:
    """Return True when ``OTEL_SDK_DISABLED`` or ``OTELML_DISABLED`` switches telemetry off."""
    try:
        return env_bool("OTEL_SDK_DISABLED", False) or env_bool("OTELML_DISABLED", False)
    except ConfigError:
        return False


Extractor = Callable[..., Any]


@dataclass(frozen=True)
class ObserveConfig:
    """Validated options of one observed model; see docs/instrumentation.md for each option."""

    model: str
    version: str = "unversioned"
    task: str = "other"
    environment: str = semconv.DEFAULT_ENVIRONMENT
    baseline: Any = None
    id_from: str | Callable[..., Any] | None = None
    log_predictions: bool = False
    segment_by: tuple[str, ...] = ()
    span_features: bool | frozenset[str] = False
    mask_features: frozenset[str] = frozenset()
    hash_features: frozenset[str] = frozenset()
    hash_salt: str = ""
    feature_names: tuple[str, ...] | None = None
    categorical: frozenset[str] = frozenset()
    classes: tuple[str, ...] | None = None
    input_arg: str | int | None = None
    inputs: Extractor | None = None
    outputs: Extractor | None = None
    max_categories: int = 100
    max_segments: int = 100
    max_features: int = 500
    max_span_ids: int = 32
    max_string_length: int = 256
    span_attribute_limit: int = 128
    nan_is_missing: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    def feature_on_span(self, name: str) -> bool:
        """Return True when ``name``'s value (possibly masked or hashed) may go on spans."""
        allowed = self.span_features
        return allowed is True or (isinstance(allowed, frozenset) and name in allowed)

    def span_value(self, name: str, value: Any) -> Any:
        """Return a feature value as it may appear on a span: masked, hashed, truncated."""
        if name in self.mask_features:
            return semconv.REDACTED
        if name in self.hash_features:
            digest = hashlib.sha256((self.hash_salt + str(value)).encode()).hexdigest()
            return "sha256:" + digest[:16]
        t = type(value)
        if t is float or t is int or t is bool:
            return value
        if t is str:
            return value[: self.max_string_length]
        if value is None:
            return None
        if isinstance(value, (int, float)):  # numpy scalars
            return value.item() if hasattr(value, "item") else float(value)
        return str(value)[: self.max_string_length]


def _names(option: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence | frozenset | set) or not all(
        isinstance(v, str) and v for v in value
    ):
        raise ConfigError(f"{option}: expected a list of non-empty strings, got {value!r}")
    return tuple(value)


def _positive(option: str, value: int | None, env: str, default: int) -> int:
    if value is None:
        return env_int(env, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{option}: expected a positive integer, got {value!r}")
    return value


def _span_attribute_limit() -> int:
    # The SDK drops the OLDEST attribute past this limit, so we never send more than it allows.
    for name in ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"):
        if os.environ.get(name):
            return env_int(name, 128, minimum=0)
    return 128


def make_config(
    *,
    model: str,
    version: str | None = None,
    task: str | None = None,
    environment: str | None = None,
    baseline: Any = None,
    id_from: str | Callable[..., Any] | None = None,
    log_predictions: bool | None = None,
    segment_by: Sequence[str] | str | None = None,
    span_features: bool | Sequence[str] | None = None,
    mask_features: Sequence[str] | None = None,
    hash_features: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    classes: Sequence[object] | None = None,
    input_arg: str | int | None = None,
    inputs: Extractor | None = None,
    outputs: Extractor | None = None,
    max_categories: int | None = None,
    max_segments: int | None = None,
    max_features: int | None = None,
    max_span_ids: int | None = None,
    max_string_length: int | None = None,
    nan_is_missing: bool = True,
) -> ObserveConfig:
    """Return a validated :class:`ObserveConfig`; raises :class:`ConfigError` naming the option."""
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"model: expected a non-empty string, got {model!r}")
    version = version if version is not None else os.environ.get("OTELML_MODEL_VERSION")
    if version is None:
        version = "unversioned"
    if not isinstance(version, str) or not version:
        raise ConfigError(f"version: expected a non-empty string, got {version!r}")
    task = task if task is not None else "other"
    if task not in semconv.TASKS:
        raise ConfigError(f"task: expected one of {', '.join(semconv.TASKS)}, got {task!r}")
    environment = environment or os.environ.get("OTELML_ENVIRONMENT") or semconv.DEFAULT_ENVIRONMENT
    if environment not in semconv.ENVIRONMENTS:
        raise ConfigError(
            f"environment: expected one of {', '.join(semconv.ENVIRONMENTS)}, got {environment!r}"
        )
    if id_from is not None and not (callable(id_from) or (isinstance(id_from, str) and id_from)):
        raise ConfigError(
            f"id_from: expected a column/argument name or a callable, got {id_from!r}"
        )
    if log_predictions is None:
        log_predictions = env_bool("OTELML_LOG_PREDICTIONS", id_from is not None)
    elif not isinstance(log_predictions, bool):
        raise ConfigError(f"log_predictions: expected a bool, got {log_predictions!r}")

    allowed: bool | frozenset[str]
    if span_features is None:
        env_allowed = env_list("OTELML_SPAN_FEATURES")
        if env_allowed is None:
            allowed = False
        else:
            allowed = True if env_allowed == ("*",) else frozenset(env_allowed)
    elif isinstance(span_features, bool):
        allowed = span_features
    else:
        allowed = frozenset(_names("span_features", span_features))
    masked = _names("mask_features", mask_features) or env_list("OTELML_MASK_FEATURES") or ()
    hashed = _names("hash_features", hash_features) or env_list("OTELML_HASH_FEATURES") or ()

    for option, fn in (("inputs", inputs), ("outputs", outputs)):
        if fn is not None and not callable(fn):
            raise ConfigError(f"{option}: expected a callable extractor, got {fn!r}")
    if input_arg is not None and not isinstance(input_arg, (str, int)):
        raise ConfigError(f"input_arg: expected an argument name or position, got {input_arg!r}")
    names = _names("feature_names", feature_names) if feature_names is not None else None
    if names is not None and len(set(names)) != len(names):
        raise ConfigError("feature_names: names must be unique")
    class_names = tuple(str(c) for c in classes) if classes is not None else None

    if not isinstance(nan_is_missing, bool):
        raise ConfigError(f"nan_is_missing: expected a bool, got {nan_is_missing!r}")
    return ObserveConfig(
        nan_is_missing=nan_is_missing,
        model=model,
        version=version,
        task=task,
        environment=environment,
        baseline=baseline,
        id_from=id_from,
        log_predictions=log_predictions,
        segment_by=_names("segment_by", segment_by),
        span_features=allowed,
        mask_features=frozenset(masked),
        hash_features=frozenset(hashed),
        hash_salt=os.environ.get("OTELML_HASH_SALT", ""),
        feature_names=names,
        categorical=frozenset(_names("categorical", categorical)),
        classes=class_names,
        input_arg=input_arg,
        inputs=inputs,
        outputs=outputs,
        max_categories=_positive("max_categories", max_categories, "OTELML_MAX_CATEGORIES", 100),
        max_segments=_positive("max_segments", max_segments, "OTELML_MAX_SEGMENTS", 100),
        max_features=_positive("max_features", max_features, "OTELML_MAX_FEATURES", 500),
        max_span_ids=_positive("max_span_ids", max_span_ids, "OTELML_MAX_SPAN_IDS", 32),
        max_string_length=_positive(
            "max_string_length", max_string_length, "OTELML_MAX_STRING_LENGTH", 256
        ),
        span_attribute_limit=_span_attribute_limit(),
    )
