"""Mergeable count, mean and variance (Welford updates, Chan et al. parallel merge)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from otelml.stats._sketch import (
    FORMAT_VERSION,
    as_float,
    as_float_array,
    check_header,
    float_from_json,
    int_field,
)

_TYPE = "moments"


class Moments:
    """Count, mean and ``m2`` (sum of squared deviations from the mean) of finite values.

    NaN and +-inf are ignored (a :class:`~otelml.stats.histogram.FixedHistogram` counts them).
    Mean and variance are stable for data far from zero: a batch is summarised with two passes
    (mean, then squared deviations) and combined with the pairwise formula of Chan, Golub and
    LeVeque (1979), so the large offset never gets squared.
    """

    __slots__ = ("_count", "_mean", "m2")

    def __init__(self) -> None:
        self._count = 0
        self._mean = 0.0
        self.m2 = 0.0

    @property
    def count(self) -> int:
        """Number of finite values recorded."""
        return self._count

    @property
    def mean(self) -> float:
        """Mean; NaN when empty."""
        return self._mean if self._count else math.nan

    @property
    def variance(self) -> float:
        """Population variance (ddof=0); NaN when empty."""
        return self.m2 / self._count if self._count else math.nan

    @property
    def sample_variance(self) -> float:
        """Sample variance (ddof=1); NaN with fewer than two values."""
        return self.m2 / (self._count - 1) if self._count > 1 else math.nan

    @property
    def std(self) -> float:
        """Population standard deviation (ddof=0); NaN when empty."""
        return math.sqrt(self.variance)

    def _combine(self, n: int, mean: float, m2: float) -> None:
        if n == 0:
            return
        if self._count == 0:
            self._count, self._mean, self.m2 = n, mean, m2
            return
        total = self._count + n
        delta = mean - self._mean
        self._mean += delta * (n / total)
        self.m2 += m2 + delta * delta * (self._count * n / total)
        self._count = total

    def update(self, x: float) -> None:
        """Record one number (non-finite ignored); ``TypeError`` for non-numbers."""
        v = as_float(x, "Moments.update")
        if math.isfinite(v):
            self._count += 1
            delta = v - self._mean
            self._mean += delta / self._count
            self.m2 += delta * (v - self._mean)

    def update_many(self, xs: npt.ArrayLike) -> None:
        """Record many numbers at once (non-finite ignored), vectorised."""
        x = as_float_array(xs, "Moments.update_many")
        if x.size and not (math.isfinite(x.min()) and math.isfinite(x.max())):
            x = x[np.isfinite(x)]
        if x.size == 0:
            return
        mean = float(x.mean())
        d = x - mean
        self._combine(int(x.size), mean, float(np.dot(d, d)))

    def merge(self, other: Moments) -> Moments:
        """Return a new ``Moments`` of both inputs' values."""
        if not isinstance(other, Moments):
            raise TypeError(f"cannot merge Moments with {type(other).__name__}")
        out = self.copy()
        out._combine(other._count, other._mean, other.m2)
        return out

    __add__ = merge

    def copy(self) -> Moments:
        """Return an independent copy."""
        out = Moments()
        out._count, out._mean, out.m2 = self._count, self._mean, self.m2
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict: count, mean (0.0 when empty) and m2."""
        return {
            "format": FORMAT_VERSION,
            "type": _TYPE,
            "count": self._count,
            "mean": self._mean,
            "m2": self.m2,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Moments:
        """Return the moments that ``to_dict`` wrote; ``ValueError`` naming a bad field."""
        check_header(d, _TYPE)
        out = cls()
        out._count = int_field(d, "count")
        out._mean = float_from_json(d, "mean")
        out.m2 = float_from_json(d, "m2")
        if not (math.isfinite(out._mean) and math.isfinite(out.m2) and out.m2 >= 0):
            raise ValueError("m2: mean and m2 must be finite, m2 >= 0")
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Moments):
            return NotImplemented
        return (self._count, self._mean, self.m2) == (other._count, other._mean, other.m2)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Moments(count={self._count}, mean={self.mean!r}, variance={self.variance!r})"
