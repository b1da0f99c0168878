"""Shared plumbing of the mergeable sketches: the format version, input checks, JSON-safe floats.

Every sketch serialises to a plain ``dict`` with ``"format"`` (an int version) and ``"type"``
keys, built only from ``int``, ``str``, lists and dicts, and finite floats, so that
``json.dumps(..., allow_nan=False)`` accepts it. Non-finite floats (an empty sketch's ``min``) are
written as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

FORMAT_VERSION = 1
"""Version of the ``to_dict`` layout of every sketch; ``from_dict`` rejects any other."""

_S = TypeVar("_S", bound="Sketch")


@runtime_checkable
class Sketch(Protocol):
    """What every otelml sketch offers: update, vectorised update, merge and serialisation."""

    @property
    def count(self) -> int: ...

    def update(self, x: Any) -> None: ...

    def update_many(self, xs: Any) -> None: ...

    def merge(self: _S, other: _S) -> _S: ...

    def copy(self: _S) -> _S: ...

    def to_dict(self) -> dict[str, Any]: ...


def check_header(d: Mapping[str, Any], type_name: str) -> None:
    """Raise ``ValueError`` naming the field unless ``d`` is a ``type_name`` dict of our format."""
    if not isinstance(d, Mapping):
        raise TypeError(f"from_dict expects a mapping, got {type(d).__name__}")
    if d.get("type") != type_name:
        raise ValueError(f"type: expected {type_name!r}, got {d.get('type')!r}")
    fmt = d.get("format")
    if isinstance(fmt, bool) or fmt != FORMAT_VERSION:
        raise ValueError(
            f"format: unsupported version {fmt!r} (this otelml reads {FORMAT_VERSION})"
        )


def field(d: Mapping[str, Any], name: str) -> Any:
    """Return ``d[name]``, raising ``ValueError`` that names a missing field."""
    try:
        return d[name]
    except KeyError:
        raise ValueError(f"{name}: missing field") from None


def int_field(d: Mapping[str, Any], name: str, *, minimum: int = 0) -> int:
    """Return ``d[name]`` as an int ``>= minimum``; ``ValueError`` naming the field otherwise."""
    v = field(d, name)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"{name}: expected an int, got {type(v).__name__}")
    if v < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {v}")
    return int(v)


def float_to_json(x: float) -> float | str:
    """Return ``x`` as a JSON-safe value: finite floats unchanged, others as strings."""
    if math.isfinite(x):
        return float(x)
    if math.isnan(x):
        return "NaN"
    return "Infinity" if x > 0 else "-Infinity"


_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def float_from_json(d: Mapping[str, Any], name: str) -> float:
    """Return the float stored under ``name`` by :func:`float_to_json`."""
    v = field(d, name)
    if isinstance(v, str):
        if v not in _SPECIAL:
            raise ValueError(f"{name}: expected a number, got {v!r}")
        return _SPECIAL[v]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{name}: expected a number, got {type(v).__name__}")
    return float(v)


def counts_from_json(v: Any, name: str, length: int | None = None) -> npt.NDArray[np.int64]:
    """Return a list of non-negative ints as an int64 array; ``ValueError`` naming ``name``."""
    if not isinstance(v, (list, tuple)) or not all(
        isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in v
    ):
        raise ValueError(f"{name}: expected a list of ints")
    arr = np.array(v, dtype=np.int64).reshape(-1)
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name}: expected {length} counts, got {arr.shape[0]}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name}: counts must be non-negative")
    return arr


def as_float_array(xs: Any, who: str) -> npt.NDArray[np.float64]:
    """Return ``xs`` (list, tuple or array of bools, ints or floats) as a 1-D float64 array.

    Strings, bytes, complex and object arrays raise ``TypeError``: a caller who meant numbers
    learns at once, rather than from a histogram full of NaN.
    """
    arr = np.asarray(xs)
    kind = arr.dtype.kind
    if kind == "f" and arr.dtype == np.float64:
        return arr.reshape(-1)
    if kind in "biuf":
        return arr.astype(np.float64).reshape(-1)
    raise TypeError(
        f"{who}: expected numbers (bool, int or float), got an array of dtype {arr.dtype}"
    )


def as_float(x: Any, who: str) -> float:
    """Return a scalar number as a float; ``TypeError`` for strings and other non-numbers."""
    if isinstance(x, (str, bytes)) or not isinstance(x, (int, float, np.number, np.bool_)):
        raise TypeError(f"{who}: expected a number, got {type(x).__name__}")
    if isinstance(x, (complex, np.complexfloating)):
        raise TypeError(f"{who}: expected a real number, got {type(x).__name__}")
    return float(x)


def same_float(a: float, b: float) -> bool:
    """Return whether two floats are equal, counting NaN equal to NaN (for ``__eq__``)."""
    return a == b or (math.isnan(a) and math.isnan(b))


class Summarised(Protocol):
    """A numeric sketch's summary of its finite values and its counts of NaN and +-inf."""

    sum: float
    min: float
    max: float
    nan_count: int
    posinf_count: int
    neginf_count: int


def drop_nonfinite(s: Summarised, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return the finite values of ``x``, adding its NaN, +inf and -inf to ``s``'s counts."""
    finite = np.isfinite(x)
    nans = int(np.count_nonzero(np.isnan(x)))
    pos = int(np.count_nonzero(x == np.inf))
    s.nan_count += nans
    s.posinf_count += pos
    s.neginf_count += x.size - nans - pos - int(np.count_nonzero(finite))
    return x[finite]


def fmin(x: float, y: float) -> float:
    """Return ``float(np.fmin(x, y))``, without a numpy call in the usual cases.

    A NaN side (an empty sketch's unknown minimum) is ignored. Equal values are left to numpy,
    because 0.0 and -0.0 compare equal but differ in sign. Merges run per series and request in
    the processor, where two numpy scalar calls cost more than the rest of the merge.
    """
    if x != x:
        return float(y)
    if y != y or x < y:
        return float(x)
    return float(y) if y < x else float(np.fmin(x, y))


def fmax(x: float, y: float) -> float:
    """Return ``float(np.fmax(x, y))``, as :func:`fmin`."""
    if x != x:
        return float(y)
    if y != y or x > y:
        return float(x)
    return float(y) if y > x else float(np.fmax(x, y))


def merge_summary(out: Summarised, a: Summarised, b: Summarised) -> None:
    """Set ``out``'s summary and non-finite counts to those of ``a`` and ``b`` together."""
    out.sum = a.sum + b.sum
    out.min = fmin(a.min, b.min)
    out.max = fmax(a.max, b.max)
    out.nan_count = a.nan_count + b.nan_count
    out.posinf_count = a.posinf_count + b.posinf_count
    out.neginf_count = a.neginf_count + b.neginf_count


def summary_to_json(s: Summarised) -> dict[str, Any]:
    """Return the ``sum``/``min``/``max`` and non-finite count fields of a ``to_dict``."""
    return {
        "sum": float_to_json(s.sum),
        "min": float_to_json(s.min),
        "max": float_to_json(s.max),
        "nan_count": s.nan_count,
        "posinf_count": s.posinf_count,
        "neginf_count": s.neginf_count,
    }


def summary_from_json(s: Summarised, d: Mapping[str, Any]) -> None:
    """Set ``s``'s summary fields from what :func:`summary_to_json` wrote into ``d``."""
    s.sum = float_from_json(d, "sum")
    s.min = float_from_json(d, "min")
    s.max = float_from_json(d, "max")
    s.nan_count = int_field(d, "nan_count")
    s.posinf_count = int_field(d, "posinf_count")
    s.neginf_count = int_field(d, "neginf_count")


def same_summary(a: Summarised, b: Summarised) -> bool:
    """Return whether two sketches' summaries and non-finite counts are equal (NaN == NaN)."""
    return (
        same_float(a.sum, b.sum)
        and same_float(a.min, b.min)
        and same_float(a.max, b.max)
        and a.nan_count == b.nan_count
        and a.posinf_count == b.posinf_count
        and a.neginf_count == b.neginf_count
    )
