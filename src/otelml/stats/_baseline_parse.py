"""Checked readers of a baseline document: each refusal a BaselineFormatError naming its path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["BaselineFormatError", "_dec", "_get", "_int", "_list", "_obj", "_text"]


class BaselineFormatError(ValueError):
    """A baseline dict or JSON document is malformed or of an unsupported schema version."""


def _dec(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise BaselineFormatError(f"{what}: expected a number, got {v!r}")
    if isinstance(v, str) and v not in ("NaN", "Infinity", "-Infinity"):
        raise BaselineFormatError(f"{what}: expected a number, got {v!r}")
    return float(v)


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise BaselineFormatError(f"{what}: expected an integer, got {v!r}")
    return v


def _list(v: Any, what: str) -> list[Any] | tuple[Any, ...]:
    if not isinstance(v, (list, tuple)):
        raise BaselineFormatError(f"{what}: expected a list, got {type(v).__name__}")
    return v


def _obj(v: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise BaselineFormatError(f"{what}: expected an object, got {type(v).__name__}")
    return v


def _text(v: Any, what: str) -> str:
    if isinstance(v, (Mapping, list, tuple)):
        raise BaselineFormatError(f"{what}: expected a string, got {type(v).__name__}")
    return str(v)


def _get(d: Mapping[str, Any], key: str, what: str) -> Any:
    try:
        return d[key]
    except KeyError:
        raise BaselineFormatError(f"{what}: missing key {key!r}") from None
    except TypeError:
        raise BaselineFormatError(f"{what}: expected an object, got {type(d).__name__}") from None
