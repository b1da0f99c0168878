"""Generic helpers behind :mod:`otelml.processor.config`: frozen dataclasses from plain data.

``build`` turns a mapping into a nested frozen dataclass by the fields' type hints, collecting
every problem with its dotted path; ``env_overrides`` reads ``PREFIX_SECTION__OPTION``
variables; ``rows`` walks the options for the documentation table.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any, Literal


def walk(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            yield from walk(value, path + ".")
        elif isinstance(value, dict):
            for k, v in value.items():
                if dataclasses.is_dataclass(v):
                    yield from walk(v, f"{path}.{k}.")
        else:
            yield path, value


def build(cls: type[Any], data: Any, path: str, errors: list[str]) -> Any:
    """Return an instance of dataclass ``cls`` from a mapping, appending problems to errors."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        errors.append(f"{path or '<root>'}: expected a mapping, got {type(data).__name__}")
        return cls()
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    errors.extend(f"{path}{key}: unknown option" for key in data if key not in names)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = coerce(hints[f.name], data[f.name], path + f.name, errors)
    try:
        return cls(**{k: v for k, v in kwargs.items() if v is not _INVALID})
    except TypeError as exc:  # pragma: no cover - defensive
        errors.append(f"{path or '<root>'}: {exc}")
        return cls()


_INVALID = object()


def coerce(tp: Any, value: Any, path: str, errors: list[str]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(inner[0], value, path, errors)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, path + ".", errors)  # type: ignore[arg-type]
    if origin is Literal:
        if value not in args:
            errors.append(f"{path}: expected one of {', '.join(map(str, args))}, got {value!r}")
            return _INVALID
        return value
    if origin is dict:
        if not isinstance(value, Mapping):
            errors.append(f"{path}: expected a mapping, got {type(value).__name__}")
            return _INVALID
        return {str(k): coerce(args[1], v, f"{path}.{k}", errors) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        errors.append(f"{path}: expected true or false, got {value!r}")
        return _INVALID
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        errors.append(f"{path}: expected an integer, got {value!r}")
        return _INVALID
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        errors.append(f"{path}: expected a number, got {value!r}")
        return _INVALID
    if tp is str:
        if isinstance(value, str):
            return value
        errors.append(f"{path}: expected a string, got {value!r}")
        return _INVALID
    raise TypeError(f"unsupported option type {tp!r} at {path}")  # pragma: no cover


def env_overrides(environ: Mapping[str, str], errors: list[str], prefix: str) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(prefix) or "__" not in name:
            continue  # OTELML_* variables without a section belong to the client
        parts = [p.lower() for p in name[len(prefix) :].split("__")]
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        node = out
        for p in parts[:-1]:
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                errors.append(f"{name}: conflicts with another variable")
                break
            node = child
        else:
            node[parts[-1]] = value
    return out


def deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def rows(cls: type[Any], prefix: str) -> Iterator[tuple[str, str, str]]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        path = prefix + f.name
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from rows(tp, path + ".")  # type: ignore[arg-type]
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        else:
            default = typing.cast(Any, f.default_factory)()
        yield path, fmt_default(default), f.metadata.get("help", "")


def fmt_default(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{}"
    return str(value)
