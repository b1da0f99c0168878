"""Mergeable counts of category values with a cap on how many distinct values are kept."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from otelml.semconv import OTHER_CATEGORY
from otelml.stats._sketch import FORMAT_VERSION, check_header, field, int_field

_TYPE = "category_counts"


def _key(value: object) -> str | None:
    """Return the category string of a value, or None for a missing one (None or float NaN)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (float, np.floating)) and value != value:
        return None
    return str(value)


class CategoryCounts:
    """Counts of string categories; at most ``cap`` distinct values are kept, the rest is "other".

    ``counts`` maps each kept category to its count and, once anything overflowed,
    ``OTHER_CATEGORY`` (``"__other__"``) to ``overflow_count``. ``None`` and float NaN count as
    missing (``missing_count``); other non-str values are converted with ``str()`` (so ``1`` and
    ``"1"`` are the same category); the literal value ``"__other__"`` counts as overflow.

    The cap rule: whenever more than ``cap`` distinct categories would be kept, the ``cap``
    most frequent stay (ties broken by the smaller string) and the others fold into
    ``"__other__"``. ``update`` and ``update_many`` merge the new values' exact counts under
    that rule. Consequences (tested): everything is exact while the union of distinct values
    stays within ``cap``; merge is always commutative; ``count``, ``missing_count`` and the
    total are always exact; and for every category ``c`` its true count lies in
    ``[counts.get(c, 0), counts.get(c, 0) + overflow_count]``. Beyond the cap, which categories
    stay kept can depend on the order of merges (exact associativity is impossible for any
    bounded top-k summary).
    """

    __slots__ = ("_kept", "cap", "missing_count", "overflow_count")

    def __init__(self, cap: int = 100) -> None:
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ValueError(f"cap: must be an int >= 1, got {cap!r}")
        self.cap = cap
        self._kept: dict[str, int] = {}
        self.overflow_count = 0
        self.missing_count = 0

    @property
    def counts(self) -> dict[str, int]:
        """Kept categories' counts, plus ``"__other__"`` when something overflowed (a copy)."""
        out = dict(self._kept)
        if self.overflow_count:
            out[OTHER_CATEGORY] = self.overflow_count
        return out

    @property
    def count(self) -> int:
        """Number of non-missing values recorded (overflow included)."""
        return sum(self._kept.values()) + self.overflow_count

    # ---------------------------------------------------------------- updates
    def _absorb(self, new: Mapping[str, int]) -> None:
        kept = self._kept
        for k, n in new.items():
            if k == OTHER_CATEGORY:
                self.overflow_count += n
            elif n:
                kept[k] = kept.get(k, 0) + n
        if len(kept) > self.cap:
            ranked = sorted(kept.items(), key=lambda kv: (-kv[1], kv[0]))
            self._kept = dict(ranked[: self.cap])
            self.overflow_count += sum(n for _, n in ranked[self.cap :])

    def update(self, value: object) -> None:
        """Record one value (``None``/NaN as missing, non-str via ``str()``)."""
        k = _key(value)
        if k is None:
            self.missing_count += 1
        else:
            self._absorb({k: 1})

    def update_many(self, values: Iterable[object] | np.ndarray[Any, Any]) -> None:
        """Record many values; unicode numpy arrays are counted with ``np.unique``."""
        if isinstance(values, np.ndarray) and values.dtype.kind == "U":
            uniq, n = np.unique(values.reshape(-1), return_counts=True)
            self._absorb(dict(zip(uniq.tolist(), n.tolist(), strict=True)))
            return
        if isinstance(values, np.ndarray):
            values = values.reshape(-1).tolist()
        tally: Counter[str] = Counter()
        missing = 0
        for v in values:
            k = _key(v)
            if k is None:
                missing += 1
            else:
                tally[k] += 1
        self.missing_count += missing
        self._absorb(tally)

    def update_counts(self, mapping: Mapping[str, int]) -> None:
        """Add pre-counted values (e.g. an OTel counter per category); keys as in ``update``."""
        tally: Counter[str] = Counter()
        for v, n in mapping.items():
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ValueError(f"mapping: count of {v!r} must be a non-negative int")
            k = _key(v)
            if k is None:
                self.missing_count += int(n)
            else:
                tally[k] += int(n)
        self._absorb(tally)

    # ---------------------------------------------------------------- merging
    def merge(self, other: CategoryCounts) -> CategoryCounts:
        """Return a new sketch holding both, with the smaller cap of the two."""
        if not isinstance(other, CategoryCounts):
            raise TypeError(f"cannot merge CategoryCounts with {type(other).__name__}")
        out = CategoryCounts(min(self.cap, other.cap))
        out.missing_count = self.missing_count + other.missing_count
        out.overflow_count = self.overflow_count + other.overflow_count
        out._absorb(self._kept)
        out._absorb(other._kept)
        return out

    __add__ = merge

    def copy(self) -> CategoryCounts:
        """Return an independent copy."""
        out = CategoryCounts(self.cap)
        out._kept = dict(self._kept)
        out.overflow_count, out.missing_count = self.overflow_count, self.missing_count
        return out

    # ---------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict; ``counts`` sorted by category (kept ones only)."""
        return {
            "format": FORMAT_VERSION,
            "type": _TYPE,
            "cap": self.cap,
            "counts": dict(sorted(self._kept.items())),
            "overflow_count": self.overflow_count,
            "missing_count": self.missing_count,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CategoryCounts:
        """Return the sketch that ``to_dict`` wrote; ``ValueError`` naming a bad field."""
        check_header(d, _TYPE)
        out = cls(int_field(d, "cap", minimum=1))
        counts = field(d, "counts")
        if not isinstance(counts, Mapping) or len(counts) > out.cap:
            raise ValueError("counts: expected a mapping of at most cap categories")
        for k, n in counts.items():
            if not isinstance(k, str) or k == OTHER_CATEGORY:
                raise ValueError(f"counts: invalid category {k!r}")
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"counts: count of {k!r} must be a positive int")
        out._kept = dict(counts)
        out.overflow_count = int_field(d, "overflow_count")
        out.missing_count = int_field(d, "missing_count")
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CategoryCounts):
            return NotImplemented
        return (
            self.cap == other.cap
            and self._kept == other._kept
            and self.overflow_count == other.overflow_count
            and self.missing_count == other.missing_count
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"CategoryCounts(cap={self.cap}, counts={self.counts!r}, "
            f"missing_count={self.missing_count})"
        )
