"""The frozen reference a model's live data is compared with: per-feature bins, categories, rates.

A :class:`Baseline` owns its binning. Numeric features get quantile bin edges from the reference
data, and every later window is counted on those same edges, so drift numbers stay comparable
over time (re-binning on reference + current each time would make them move with the window).

Bins follow the contract's upper-inclusive convention: edges ``e_0 < ... < e_{k-1}`` give
``k + 1`` bins ``(-inf, e_0], (e_0, e_1], ..., (e_{k-1}, +inf)``, found with
``np.searchsorted(edges, x, side="left")``; they map 1:1 onto an OTel explicit-bucket histogram.

JSON round-trips exactly: floats are written with ``repr`` (shortest exact form), non-finite
floats as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` so that the file stays strict
JSON. Baselines are built by :class:`otelml.stats.baseline_builder.BaselineBuilder`; reading
and writing files lives in :mod:`otelml.baselines`, outside ``stats``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from otelml.stats._baseline_parse import BaselineFormatError as BaselineFormatError
from otelml.stats._baseline_parse import (
    _dec,
    _get,
    _int,
    _list,
    _obj,
    _text,
)

if TYPE_CHECKING:
    from otelml.stats.categorical import CategoryCounts
    from otelml.stats.histogram import FixedHistogram

SCHEMA_VERSION = 1
"""Version of the baseline's dict/JSON layout; :meth:`Baseline.from_dict` refuses others."""
FORMAT_NAME = "otelml.baseline"
DEFAULT_CATEGORY_CAP = 100

Kind = Literal["numeric", "categorical"]
KINDS: tuple[str, ...] = ("numeric", "categorical")
QuantileMethod = Literal["exact", "sample"]


def _enc(x: float) -> float | str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


@dataclass(frozen=True, eq=False)
class FeatureBaseline:
    """Reference statistics of one feature (or of the prediction or label column).

    Attributes
    ----------
    name, kind
        Column name; ``"numeric"`` or ``"categorical"``.
    edges, ref_counts
        Numeric: quantile bin edges (upper-inclusive bins, see the module docstring) and the
        reference's count of finite values in each of the ``len(edges) + 1`` bins.
    min, max, mean, std
        Numeric: over finite values (``std`` is the population std, ddof=0); NaN when none.
    count
        Rows the column was observed in, missing ones included: the denominator of the rates.
    missing_rate, nan_rate, inf_rate
        Shares of ``count`` that were missing (None / null / masked), NaN, or +-inf.
    categories
        Categorical: reference count per category; beyond the cap the rest is counted under
        ``semconv.OTHER_CATEGORY``.
    importance
        Optional feature importance, used to rank drift.
    quantile_method, quantile_rank_error
        ``"exact"`` when every value was used for the edges; ``"sample"`` when a uniform sample
        was, with each edge's rank within ``quantile_rank_error`` of its target share with
        probability ``1 - 1e-6``. The counts are exact either way.
    bin_means
        Numeric: the reference's mean value within each of the ``len(edges) + 1`` bins (NaN for
        an empty bin), so that the binned Wasserstein distance puts each bin's mass where the
        reference's mass really is (``docs/drift.md``). Empty for baselines written before it
        existed (or built from histograms): drift then estimates them from the edges.
    """

    name: str
    kind: Kind
    edges: tuple[float, ...] = ()
    ref_counts: tuple[int, ...] = ()
    min: float = math.nan
    max: float = math.nan
    mean: float = math.nan
    std: float = math.nan
    count: int = 0
    missing_rate: float = 0.0
    nan_rate: float = 0.0
    categories: dict[str, int] = field(default_factory=dict)
    importance: float | None = None
    inf_rate: float = 0.0
    quantile_method: QuantileMethod = "exact"
    quantile_rank_error: float = 0.0
    bin_means: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        edges = tuple(float(e) for e in self.edges)
        arr = np.asarray(edges, dtype=np.float64)
        if not np.all(np.isfinite(arr)) or np.any(np.diff(arr) <= 0):
            raise ValueError(f"{self.name}: edges must be finite and strictly increasing")
        counts = tuple(int(c) for c in self.ref_counts)
        if counts and len(counts) != len(edges) + 1:
            raise ValueError(
                f"{self.name}: ref_counts needs len(edges) + 1 = {len(edges) + 1} entries, "
                f"got {len(counts)}"
            )
        if any(c < 0 for c in counts):
            raise ValueError(f"{self.name}: ref_counts must be non-negative")
        if any(int(v) < 0 for v in self.categories.values()):
            raise ValueError(f"{self.name}: category counts must be non-negative")
        means = tuple(float(m) for m in self.bin_means)
        if means and len(means) != len(edges) + 1:
            raise ValueError(
                f"{self.name}: bin_means needs len(edges) + 1 = {len(edges) + 1} entries, "
                f"got {len(means)}"
            )
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "ref_counts", counts)
        object.__setattr__(self, "bin_means", means)
        object.__setattr__(self, "categories", {str(k): int(v) for k, v in self.categories.items()})

    def __eq__(self, other: object) -> bool:
        # Compare the exact serialised form, so NaN fields (an all-missing feature) compare
        # equal after a JSON round trip, as a value type should.
        if not isinstance(other, FeatureBaseline):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # holds a dict

    @property
    def reference_total(self) -> int:
        """Return the number of reference values in the bins or categories."""
        return sum(self.ref_counts) if self.kind == "numeric" else sum(self.categories.values())

    def new_sketch(self) -> FixedHistogram | CategoryCounts:
        """Return an empty sketch to count a current window on this feature's bins/categories."""
        if self.kind == "numeric":
            from otelml.stats.histogram import FixedHistogram

            return FixedHistogram(np.asarray(self.edges, dtype=np.float64))
        from otelml.stats.categorical import CategoryCounts

        return CategoryCounts(cap=max(DEFAULT_CATEGORY_CAP, len(self.categories)))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (non-finite floats as strings) that round-trips exactly."""
        d: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "count": self.count,
            "missing_rate": _enc(self.missing_rate),
            "nan_rate": _enc(self.nan_rate),
            "inf_rate": _enc(self.inf_rate),
            "edges": [_enc(e) for e in self.edges],
            "ref_counts": list(self.ref_counts),
            "min": _enc(self.min),
            "max": _enc(self.max),
            "mean": _enc(self.mean),
            "std": _enc(self.std),
            "categories": dict(self.categories),
            "importance": None if self.importance is None else _enc(self.importance),
            "quantile_method": self.quantile_method,
            "quantile_rank_error": _enc(self.quantile_rank_error),
        }
        if self.bin_means:
            # Added within schema 1: older readers ignore the key, and documents without it
            # still load (drift then estimates the means from the edges).
            d["bin_means"] = [_enc(m) for m in self.bin_means]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], path: str | None = None) -> FeatureBaseline:
        """Return the feature baseline that :meth:`to_dict` wrote (``BaselineFormatError``).

        ``path`` names the feature in error messages (``features['age']``); by default it is
        ``feature '<name>'``.
        """
        d = _obj(d, path or "feature")
        name = _get(d, "name", path or "feature")
        what = path or f"feature {name!r}"
        cats = _obj(d.get("categories") or {}, f"{what}.categories")
        imp = d.get("importance")
        method = d.get("quantile_method", "exact")
        if method not in ("exact", "sample"):
            raise BaselineFormatError(f"{what}.quantile_method: unknown {method!r}")
        kind = _get(d, "kind", what)
        if kind not in KINDS:
            raise BaselineFormatError(f"{what}.kind: must be one of {KINDS}, got {kind!r:.40}")
        try:
            return cls(
                name=_text(name, f"{what}.name"),
                kind=kind,
                edges=tuple(
                    _dec(e, f"{what}.edges") for e in _list(d.get("edges", ()), f"{what}.edges")
                ),
                ref_counts=tuple(
                    _int(c, f"{what}.ref_counts")
                    for c in _list(d.get("ref_counts", ()), f"{what}.ref_counts")
                ),
                min=_dec(d.get("min", "NaN"), f"{what}.min"),
                max=_dec(d.get("max", "NaN"), f"{what}.max"),
                mean=_dec(d.get("mean", "NaN"), f"{what}.mean"),
                std=_dec(d.get("std", "NaN"), f"{what}.std"),
                count=_int(_get(d, "count", what), f"{what}.count"),
                missing_rate=_dec(d.get("missing_rate", 0.0), f"{what}.missing_rate"),
                nan_rate=_dec(d.get("nan_rate", 0.0), f"{what}.nan_rate"),
                inf_rate=_dec(d.get("inf_rate", 0.0), f"{what}.inf_rate"),
                categories={str(k): _int(v, f"{what}.categories") for k, v in cats.items()},
                importance=None if imp is None else _dec(imp, f"{what}.importance"),
                quantile_method=method,
                quantile_rank_error=_dec(
                    d.get("quantile_rank_error", 0.0), f"{what}.quantile_rank_error"
                ),
                bin_means=tuple(
                    _dec(m, f"{what}.bin_means")
                    for m in _list(d.get("bin_means", ()), f"{what}.bin_means")
                ),
            )
        except BaselineFormatError:
            raise
        except ValueError as exc:
            raise BaselineFormatError(f"{what}: {exc}") from None


@dataclass(frozen=True, eq=False)
class Baseline:
    """A model version's frozen reference: per-feature baselines plus prediction and label.

    ``reference_scores`` optionally holds a sample of labelled scores (``{"scores": [...],
    "labels": [...]}``) for calibration-based performance estimation; ``performance`` the
    reference's metrics. ``created_at`` is an ISO-8601 UTC timestamp.
    """

    model: str
    version: str
    features: dict[str, FeatureBaseline]
    prediction: FeatureBaseline | None = None
    label: FeatureBaseline | None = None
    reference_scores: dict[str, list[Any]] | None = None
    performance: dict[str, float] | None = None
    created_at: str = ""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        for key, fb in self.features.items():
            if key != fb.name:
                raise ValueError(f"features[{key!r}] holds feature {fb.name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Baseline):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # holds dicts

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict with ``format`` and ``schema_version`` keys."""
        rs = self.reference_scores
        return {
            "format": FORMAT_NAME,
            "schema_version": self.schema_version,
            "model": self.model,
            "version": self.version,
            "created_at": self.created_at,
            "features": {k: v.to_dict() for k, v in self.features.items()},
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "label": None if self.label is None else self.label.to_dict(),
            "reference_scores": None
            if rs is None
            else {
                "scores": [_enc(float(s)) for s in rs["scores"]],
                "labels": [_enc(v) if isinstance(v, float) else v for v in rs["labels"]],
            },
            "performance": None
            if self.performance is None
            else {k: _enc(v) for k, v in self.performance.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Baseline:
        """Return the baseline that :meth:`to_dict` wrote.

        Raises
        ------
        BaselineFormatError
            Not a baseline, a schema version this otelml cannot read, or a malformed field.
        """
        if not isinstance(d, Mapping):
            raise BaselineFormatError(f"baseline: expected an object, got {type(d).__name__}")
        if d.get("format") != FORMAT_NAME:
            raise BaselineFormatError(f"not an otelml baseline (format is {d.get('format')!r})")
        sv = d.get("schema_version")
        if sv != SCHEMA_VERSION:
            raise BaselineFormatError(
                f"baseline schema_version {sv!r} is not supported; this otelml reads "
                f"schema_version {SCHEMA_VERSION}"
            )
        feats = _obj(_get(d, "features", "baseline"), "features")
        pred, lab, rs, perf = (
            d.get(k) for k in ("prediction", "label", "reference_scores", "performance")
        )
        scores = None
        if rs is not None:
            rs = _obj(rs, "reference_scores")
            scores = {
                "scores": [
                    _dec(s, "reference_scores.scores")
                    for s in _list(
                        _get(rs, "scores", "reference_scores"), "reference_scores.scores"
                    )
                ],
                "labels": [
                    float(v) if isinstance(v, str) and v in ("NaN", "Infinity", "-Infinity") else v
                    for v in _list(
                        _get(rs, "labels", "reference_scores"), "reference_scores.labels"
                    )
                ],
            }
        features = {}
        for k, v in feats.items():
            fb = FeatureBaseline.from_dict(v, f"features[{k!r}]")
            if fb.name != str(k):
                raise BaselineFormatError(f"features[{k!r}].name: holds feature {fb.name!r}")
            features[str(k)] = fb
        return cls(
            model=_text(_get(d, "model", "baseline"), "model"),
            version=_text(_get(d, "version", "baseline"), "version"),
            created_at=_text(d.get("created_at", ""), "created_at"),
            features=features,
            prediction=None if pred is None else FeatureBaseline.from_dict(pred, "prediction"),
            label=None if lab is None else FeatureBaseline.from_dict(lab, "label"),
            reference_scores=scores,
            performance=None
            if perf is None
            else {
                str(k): _dec(v, f"performance.{k}") for k, v in _obj(perf, "performance").items()
            },
            schema_version=SCHEMA_VERSION,
        )

    def to_json(self, *, indent: int | None = 1) -> str:
        """Return strict JSON text (floats in exact ``repr`` form)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Baseline:
        """Return the baseline in ``text`` (``BaselineFormatError`` for anything else)."""
        try:
            d = json.loads(text)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise BaselineFormatError(f"baseline is not valid JSON: {exc}") from None
        return cls.from_dict(d)
