"""How feature values may leave the host: raw, hashed or masked, the same on every signal.

A category value (a string feature's value, a segment value, a prediction label) goes out
as one of:

- raw: as it is, only for features the user lists in ``raw_categories`` (or all of them with
  ``raw_categories=True``), and for prediction labels unless they are listed below;
- hashed: ``sha256:`` + 16 hex digits of the salted value, the default for string features
  and segment values and what ``hash_features`` asks for. The salt is ``OTELML_HASH_SALT``
  (empty when unset), read once per decorator: the same on every replica that shares the
  environment, so equal values give equal categories everywhere and drift still compares;
- masked: the constant ``__REDACTED__``, for ``mask_features``: presence and missing values
  still count, the distribution of values does not exist any more.

Numbers of a numeric feature are binned into histograms and are not category values; on spans
they stay numbers unless the feature is masked or listed in ``hash_features``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from otelml import semconv

RAW, HASH, MASK = "raw", "hash", "mask"
_CACHE_LIMIT = 65_536  # distinct hashed values remembered per decorator before starting over


def hash_salt() -> str:
    """Return the salt of hashed values: ``OTELML_HASH_SALT``, or empty when unset."""
    return os.environ.get("OTELML_HASH_SALT", "")


def _env_names(name: str) -> tuple[str, ...] | None:
    raw = os.environ.get(name)
    return None if raw is None else tuple(p.strip() for p in raw.split(",") if p.strip())


def env_raw_categories() -> bool | frozenset[str]:
    """Return ``OTELML_RAW_CATEGORIES``: ``*`` or ``true`` for all features, else the names
    it lists (none when unset or ``false``)."""
    names = _env_names("OTELML_RAW_CATEGORIES")
    if names is None or names in (("false",), ("0",)):
        return frozenset()
    return True if names in (("*",), ("true",), ("1",)) else frozenset(names)


def category_hash(value: str, salt: str | None = None) -> str:
    """Return the hashed form of a category ``value`` as otelml exports it.

    ``salt`` defaults to ``OTELML_HASH_SALT``. Use it to translate a known value (a category
    of an offline report, a segment to filter on) into what the telemetry holds.
    """
    salt = hash_salt() if salt is None else salt
    return "sha256:" + hashlib.sha256((salt + value).encode()).hexdigest()[:16]


class Protector:
    """Decides per name whether category values go out raw, hashed or masked, and does it."""

    def __init__(
        self,
        *,
        raw: bool | frozenset[str] = False,
        masked: frozenset[str] = frozenset(),
        hashed: frozenset[str] = frozenset(),
        salt: str = "",
    ) -> None:
        self.raw, self.masked, self.hashed, self.salt = raw, masked, hashed, salt
        self.options = (raw, masked, hashed, salt)
        """What decides every value's form: decorators of one model must agree on it."""
        self._cache: dict[str, str] = {}

    def mode(self, name: str) -> str:
        """Return :data:`RAW`, :data:`HASH` or :data:`MASK` for the values of ``name``."""
        if name in self.masked:
            return MASK
        if name in self.hashed:
            return HASH
        if name == semconv.PREDICTION_LABEL:
            return RAW  # labels are the model's vocabulary: protected only when listed
        raw = self.raw
        return RAW if raw is True or (raw is not False and name in raw) else HASH

    def hash(self, value: str) -> str:
        """Return the salted hash of ``value`` (remembered: the same values come back often)."""
        cache = self._cache
        found = cache.get(value)
        if found is None:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            found = cache[value] = category_hash(value, self.salt)
        return found

    def _mask(self, value: str) -> str:
        return semconv.REDACTED

    def category_fn(self, name: str) -> Callable[[str], str] | None:
        """Return what turns a category value of ``name`` into its exported form (None: raw)."""
        mode = self.mode(name)
        if mode is RAW:
            return None
        return self._mask if mode is MASK else self.hash

    def value(self, name: str, value: str) -> str:
        """Return the exported form of one category value of ``name``."""
        fn = self.category_fn(name)
        return value if fn is None else fn(value)


def rekey(counts: Any, fn: Callable[[str], str]) -> dict[str, int]:
    """Return ``{fn(category): count}``, summing categories that map to one key."""
    out: dict[str, int] = {}
    for k, c in counts.items():
        key = fn(k)
        out[key] = out.get(key, 0) + c
    return out


def record_exception(span: Any, exc: BaseException, with_message: bool) -> None:
    """Record ``exc`` on ``span`` as an ``exception`` event; without its message unless
    ``with_message``: a model's message often quotes the input row."""
    if with_message:
        span.record_exception(exc)
        return
    typ = type(exc).__qualname__
    frames = "".join(traceback.format_tb(exc.__traceback__))
    span.add_event(
        "exception",
        {
            "exception.type": typ,
            "exception.stacktrace": f"Traceback (most recent call last):\n{frames}{typ}\n",
            "exception.escaped": "False",
        },
    )


def hashed_baseline(
    baseline: Any,
    *,
    raw_categories: bool | Sequence[str] | None = None,
    mask_features: Sequence[str] | None = None,
    hash_features: Sequence[str] | None = None,
    salt: str | None = None,
) -> Any:
    """Return a copy of ``baseline`` whose categories are those the decorator exports.

    Give it the options (and ``OTELML_HASH_SALT``) of the observed model, save it and push it
    to the processor: its categories then match the live, hashed ones. The ``__other__``
    overflow category stays as it is; numeric features are unchanged.
    """
    if raw_categories is None:
        raw: bool | frozenset[str] = env_raw_categories()
    else:
        raw = raw_categories if isinstance(raw_categories, bool) else frozenset(raw_categories)
    prot = Protector(
        raw=raw,
        masked=frozenset(mask_features or _env_names("OTELML_MASK_FEATURES") or ()),
        hashed=frozenset(hash_features or _env_names("OTELML_HASH_FEATURES") or ()),
        salt=hash_salt() if salt is None else salt,
    )

    def protect(fb: Any, name: str) -> Any:
        fn = prot.category_fn(name)
        if fb is None or fb.kind != "categorical" or fn is None:
            return fb
        keep = semconv.OTHER_CATEGORY
        cats = rekey(fb.categories, lambda k: k if k == keep else fn(k))
        return dataclasses.replace(fb, categories=cats)

    label = semconv.PREDICTION_LABEL
    return dataclasses.replace(
        baseline,
        features={k: protect(fb, k) for k, fb in baseline.features.items()},
        prediction=protect(baseline.prediction, label),
        label=protect(baseline.label, label),
    )
