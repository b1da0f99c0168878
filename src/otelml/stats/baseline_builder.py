"""Build a :class:`~otelml.stats.baseline.Baseline` from column chunks, in bounded memory.

Usage::

    builder = BaselineBuilder(prediction="score", label="y")
    for chunk in chunks():            # dict[str, np.ndarray], one chunk at a time
        builder.update(chunk)
    if builder.needs_second_pass:     # only when a column outgrew max_exact values
        for chunk in chunks():
            builder.count(chunk)
    baseline = builder.freeze(model="fraud", version="3")

Quantile method. Each numeric column keeps its finite values in a reservoir of ``max_exact``
values (default 2**21, 16 MiB per column). While a column fits, its edges are the exact
``inverted_cdf`` quantiles of all values (``np.quantile(..., method="inverted_cdf")``: the
smallest value whose empirical CDF reaches the target share, so every edge is a data value and
the upper-inclusive bin it closes holds at least that share) and the counts are taken from the
kept values. Beyond that the reservoir is a uniform sample without replacement; edges are the
sample's quantiles, and by the Dvoretzky-Kiefer-Wolfowitz inequality (which sampling without
replacement only tightens) each edge's true rank is within
``eps = sqrt(ln(2 / 1e-6) / (2 * max_exact))`` of its target with probability ``1 - 1e-6``
(eps = 0.0024 at the default: a "10 %" bin holds 9.5-10.5 %). The counts on those edges are exact:
they come from a second pass over the data. Min and max are always exact.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from otelml.semconv import OTHER_CATEGORY
from otelml.stats._columns import infer_kind, split_categorical, split_numeric
from otelml.stats._reservoir import Reservoir
from otelml.stats.baseline import DEFAULT_CATEGORY_CAP, KINDS, Baseline, FeatureBaseline, Kind

DEFAULT_MAX_EXACT = 1 << 21
DEFAULT_MAX_REFERENCE_SCORES = 10_000
ERROR_DELTA = 1e-6


def quantile_rank_error(sample_size: int, delta: float = ERROR_DELTA) -> float:
    """Return the DKW rank error bound of quantiles from a uniform sample of ``sample_size``."""
    return math.sqrt(math.log(2.0 / delta) / (2.0 * sample_size))


class _Numeric:
    def __init__(self, capacity: int, rng: np.random.Generator) -> None:
        self.rows = self.missing = self.nan = self.inf = 0
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.min, self.max = math.inf, -math.inf
        self.sample = Reservoir(capacity, (np.float64,), rng)
        self.edges: np.ndarray | None = None
        self.counts: np.ndarray | None = None
        self.counted = 0

    def update(self, values: np.ndarray, n_missing: int) -> None:
        self.rows += len(values) + n_missing
        self.missing += n_missing
        finite = np.isfinite(values)
        if not finite.all():
            nan = int(np.isnan(values).sum())
            self.nan += nan
            self.inf += int(len(values) - finite.sum()) - nan
            values = values[finite]
        nb = len(values)
        if nb == 0:
            return
        mean_b = float(values.mean())
        m2_b = float(np.square(values - mean_b).sum())
        self._combine(nb, mean_b, m2_b)
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))
        self.sample.update(values)

    def _combine(self, nb: int, mean_b: float, m2_b: float) -> None:
        # Chan et al.'s parallel update: exact merge of (count, mean, M2) summaries.
        n = self.n + nb
        delta = mean_b - self.mean
        self.mean += delta * nb / n
        self.m2 += m2_b + delta * delta * self.n * nb / n
        self.n = n

    def merge_from(self, other: _Numeric) -> None:
        self.rows += other.rows
        self.missing += other.missing
        self.nan += other.nan
        self.inf += other.inf
        if other.n:
            self._combine(other.n, other.mean, other.m2)
        self.min, self.max = min(self.min, other.min), max(self.max, other.max)
        self.sample = self.sample.merge(other.sample)

    def freeze_edges(self, bins: int) -> None:
        vals = self.sample.values()
        if self.n == 0:
            self.edges = np.empty(0)
        else:
            probs = np.arange(1, bins) / bins
            qs = np.quantile(vals, probs, method="inverted_cdf") if bins > 1 else []
            self.edges = np.unique(np.concatenate([[self.min], qs, [self.max]]))
        self.counts = np.zeros(len(self.edges) + 1, dtype=np.int64)
        if self.sample.exact:
            self._count(vals)

    def _count(self, finite: np.ndarray) -> None:
        assert self.edges is not None
        assert self.counts is not None
        idx = np.searchsorted(self.edges, finite, side="left")
        self.counts += np.bincount(idx, minlength=len(self.counts))
        self.counted += len(finite)

    def count(self, values: np.ndarray) -> None:
        if not self.sample.exact:
            self._count(values[np.isfinite(values)])

    def freeze(self, name: str, importance: float | None) -> FeatureBaseline:
        assert self.edges is not None
        assert self.counts is not None
        if self.counted != self.n:
            raise ValueError(
                f"feature {name!r}: the second pass counted {self.counted} of {self.n} values; "
                "call count() with every chunk again before freeze()"
            )
        rows = max(self.rows, 1)
        exact = self.sample.exact
        return FeatureBaseline(
            name=name,
            kind="numeric",
            edges=tuple(self.edges.tolist()),
            ref_counts=tuple(self.counts.tolist()),
            min=self.min if self.n else math.nan,
            max=self.max if self.n else math.nan,
            mean=self.mean if self.n else math.nan,
            std=math.sqrt(self.m2 / self.n) if self.n else math.nan,
            count=self.rows,
            missing_rate=self.missing / rows,
            nan_rate=self.nan / rows,
            inf_rate=self.inf / rows,
            importance=importance,
            quantile_method="exact" if exact else "sample",
            quantile_rank_error=0.0 if exact else quantile_rank_error(self.sample.capacity),
        )


class _Categorical:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        # Track up to `limit` distinct values exactly and keep the `cap` most frequent at the
        # end, so the result does not depend on chunking or row order (first-come capping would).
        self.limit = max(10 * cap, 10_000)
        self.rows = self.missing = self.overflow = 0
        self.counts: dict[str, int] = {}

    def update(self, values: np.ndarray, n_missing: int) -> None:
        self.rows += len(values) + n_missing
        self.missing += n_missing
        if len(values):
            uniq, cnt = np.unique(values, return_counts=True)
            self._add(zip(uniq.tolist(), cnt.tolist(), strict=True))

    def _add(self, pairs: Iterable[tuple[str, int]]) -> None:
        counts = self.counts
        for key, c in pairs:
            if key in counts:
                counts[key] += c
            elif len(counts) < self.limit:
                counts[key] = c
            else:
                self.overflow += c

    def merge_from(self, other: _Categorical) -> None:
        self.rows += other.rows
        self.missing += other.missing
        self.overflow += other.overflow
        self._add(other.counts.items())

    def freeze(self, name: str, importance: float | None) -> FeatureBaseline:
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        cats = dict(ranked[: self.cap])
        other = self.overflow + sum(c for _, c in ranked[self.cap :])
        if other:
            cats[OTHER_CATEGORY] = cats.get(OTHER_CATEGORY, 0) + other
        return FeatureBaseline(
            name=name,
            kind="categorical",
            categories=cats,
            count=self.rows,
            missing_rate=self.missing / max(self.rows, 1),
            importance=importance,
        )


class BaselineBuilder:
    """Accumulate column chunks into a frozen :class:`Baseline` (see the module docstring).

    Parameters
    ----------
    features : sequence of str, optional
        Feature columns. Default: every column of the first chunk except prediction and label.
    kinds : mapping of str to "numeric" or "categorical", optional
        Per-column overrides of the kind inferred from the first chunk's dtype (integer and
        float dtypes are numeric; strings, objects, bools and the rest categorical).
    prediction, label : str, optional
        Names of the prediction and ground-truth columns, profiled like features.
    bins : int
        Quantile bins per numeric feature (edges at the 1/bins .. (bins-1)/bins quantiles plus
        min and max, duplicates removed).
    category_cap : int
        Categories kept per categorical column; the rest are counted as ``__other__``.
    max_exact : int
        Values per numeric column kept for exact quantiles before sampling starts.
    max_reference_scores : int
        Size of the uniform sample of (prediction, label) pairs kept when both are declared
        and the prediction is numeric; 0 keeps none.
    seed : int
        Seed of the sampling, so the same data gives the same baseline.
    """

    def __init__(
        self,
        features: Sequence[str] | None = None,
        *,
        kinds: Mapping[str, Kind] | None = None,
        prediction: str | None = None,
        label: str | None = None,
        bins: int = 10,
        category_cap: int = DEFAULT_CATEGORY_CAP,
        max_exact: int = DEFAULT_MAX_EXACT,
        max_reference_scores: int = DEFAULT_MAX_REFERENCE_SCORES,
        seed: int = 0,
    ) -> None:
        if bins < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        if category_cap < 1:
            raise ValueError(f"category_cap must be >= 1, got {category_cap}")
        if max_exact < 1:
            raise ValueError(f"max_exact must be >= 1, got {max_exact}")
        for col, kind in (kinds or {}).items():
            if kind not in KINDS:
                raise ValueError(f"kinds[{col!r}] must be one of {KINDS}, got {kind!r}")
        self._features = None if features is None else list(features)
        self._kinds = dict(kinds or {})
        self.prediction, self.label = prediction, label
        self.bins, self.category_cap, self.max_exact = bins, category_cap, max_exact
        self.max_reference_scores = max_reference_scores
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._states: dict[str, _Numeric | _Categorical] = {}
        self._scores: Reservoir | None = None
        self._frozen_edges = False

    @property
    def features(self) -> list[str]:
        """Return the feature columns (known after the first chunk when not declared)."""
        return list(self._features or [])

    @property
    def rows(self) -> int:
        """Return the rows seen by the first pass."""
        return next((s.rows for s in self._states.values()), 0)

    @property
    def needs_second_pass(self) -> bool:
        """True when some column was sampled, so its bin counts need :meth:`count` passes."""
        return any(isinstance(s, _Numeric) and not s.sample.exact for s in self._states.values())

    def _columns(self) -> list[str]:
        extra = [c for c in (self.prediction, self.label) if c is not None]
        return [*(self._features or []), *extra]

    def _start(self, chunk: Mapping[str, Any]) -> None:
        roles = {self.prediction, self.label}
        if self._features is None:
            self._features = [str(c) for c in chunk if c not in roles]
        overlap = [f for f in self._features if f in roles]
        if overlap:
            raise ValueError(f"columns {overlap} are declared both as feature and as target")
        for col in self._columns():
            if col not in chunk:
                continue  # reported by _check
            kind = self._kinds.get(col) or infer_kind(np.asanyarray(chunk[col]))
            self._kinds[col] = kind
            self._states[col] = (
                _Numeric(self.max_exact, self._rng)
                if kind == "numeric"
                else _Categorical(self.category_cap)
            )
        if (
            self.prediction
            and self.label
            and self.max_reference_scores > 0
            and self._kinds.get(self.prediction) == "numeric"
        ):
            label_dtype = np.float64 if self._kinds[self.label] == "numeric" else object
            self._scores = Reservoir(
                self.max_reference_scores, (np.float64, label_dtype), self._rng
            )

    def _check(self, chunk: Mapping[str, Any]) -> dict[str, np.ndarray]:
        missing = [c for c in self._columns() if c not in chunk]
        if missing:
            raise ValueError(f"columns not found in the data: {missing}")
        cols = {c: np.asanyarray(chunk[c]) for c in self._columns()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns have different lengths: {sorted(lengths)}")
        return cols

    def update(self, chunk: Mapping[str, Any]) -> None:
        """Add one chunk of rows (mapping of column name to 1-D array) to the first pass."""
        if self._frozen_edges:
            raise RuntimeError("update() after count(): the bin edges are already frozen")
        if not self._states:
            self._start(chunk)
        cols = self._check(chunk)
        for name, state in self._states.items():
            if isinstance(state, _Numeric):
                state.update(*split_numeric(cols[name], name))
            else:
                state.update(*split_categorical(cols[name]))
        if self._scores is not None:
            self._sample_scores(cols)

    def _sample_scores(self, cols: dict[str, np.ndarray]) -> None:
        assert self._scores is not None
        assert self.prediction is not None
        assert self.label is not None
        pred, lab = cols[self.prediction], cols[self.label]
        # Keep only rows where both the score and the label are usable.
        keep = ~np.ma.getmaskarray(pred) & ~np.ma.getmaskarray(lab)
        scores = np.asarray(np.ma.getdata(pred), dtype=np.float64)
        keep &= np.isfinite(scores)
        labels = np.ma.getdata(lab)
        if self._kinds[self.label] == "numeric":
            labels = np.asarray(labels, dtype=np.float64)
            keep &= np.isfinite(labels)
        else:
            keep &= ~np.fromiter((v is None for v in labels), dtype=bool, count=len(labels))
            labels = labels.astype(str).astype(object)
        self._scores.update(scores[keep], labels[keep])

    def merge(self, other: BaselineBuilder) -> BaselineBuilder:
        """Fold another builder's first pass (same settings) into this one and return self."""
        if self._frozen_edges or other._frozen_edges:
            raise RuntimeError("merge() is only possible before count()")
        if not other._states:
            return self
        if not self._states:
            self.__dict__.update(copy.deepcopy(other.__dict__))
            return self
        if self._columns() != other._columns() or self._kinds != other._kinds:
            raise ValueError("cannot merge builders with different columns or kinds")
        for name, state in self._states.items():
            state.merge_from(other._states[name])  # type: ignore[arg-type]
        if self._scores is not None and other._scores is not None:
            self._scores = self._scores.merge(other._scores)
        return self

    def _freeze_edges(self) -> None:
        if not self._frozen_edges:
            for state in self._states.values():
                if isinstance(state, _Numeric):
                    state.freeze_edges(self.bins)
            self._frozen_edges = True

    def edges(self) -> dict[str, tuple[float, ...]]:
        """Return the numeric columns' bin edges, freezing them (no more :meth:`update`)."""
        self._freeze_edges()
        return {
            n: tuple(s.edges.tolist())
            for n, s in self._states.items()
            if isinstance(s, _Numeric) and s.edges is not None
        }

    def count(self, chunk: Mapping[str, Any]) -> None:
        """Count one chunk on the frozen edges (second pass; needed when sampling happened)."""
        self._freeze_edges()
        cols = self._check(chunk)
        for name, state in self._states.items():
            if isinstance(state, _Numeric) and not state.sample.exact:
                state.count(split_numeric(cols[name], name)[0])

    def freeze(
        self,
        *,
        model: str,
        version: str,
        importances: Mapping[str, float] | None = None,
        performance: Mapping[str, float] | None = None,
        created_at: str | None = None,
    ) -> Baseline:
        """Return the frozen :class:`Baseline` (ValueError if a needed second pass is missing)."""
        if not self._states:
            raise ValueError("no data: call update() with at least one chunk first")
        self._freeze_edges()
        imps = dict(importances or {})
        unknown = sorted(set(imps) - set(self.features))
        if unknown:
            raise ValueError(f"importances name unknown features: {unknown}")
        frozen = {n: s.freeze(n, imps.get(n)) for n, s in self._states.items()}
        scores = None
        if self._scores is not None:
            scores = {
                "scores": self._scores.values(0).tolist(),
                "labels": self._scores.values(1).tolist(),
            }
        return Baseline(
            model=model,
            version=version,
            features={n: frozen[n] for n in self.features},
            prediction=frozen.get(self.prediction) if self.prediction else None,
            label=frozen.get(self.label) if self.label else None,
            reference_scores=scores,
            performance=None if performance is None else dict(performance),
            created_at=created_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
