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
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from otelml.stats._builder_columns import (
    DEFAULT_MAX_EXACT,
    DEFAULT_MAX_REFERENCE_SCORES,
    ERROR_DELTA,
    _Categorical,
    _Numeric,
    quantile_grid,
    quantile_rank_error,
)
from otelml.stats._columns import infer_kind, split_categorical, split_numeric
from otelml.stats._reservoir import Reservoir
from otelml.stats.baseline import DEFAULT_CATEGORY_CAP, KINDS, Baseline, Kind

__all__ = [
    "DEFAULT_MAX_EXACT",
    "DEFAULT_MAX_REFERENCE_SCORES",
    "ERROR_DELTA",
    "BaselineBuilder",
    "quantile_grid",
    "quantile_rank_error",
]


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
        Quantile bins per numeric feature: ``bins - 1`` quantile edges plus min and max,
        duplicates removed.
    spacing : {"cosine", "uniform"}
        Levels of the quantile edges: ``"uniform"`` at ``j / bins`` (deciles), ``"cosine"``
        (default) denser in the tails, which keeps the binned Wasserstein distance within a
        tenth of the raw-data one for scale changes too
        (:func:`otelml.stats._builder_columns.quantile_grid`).
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
        spacing: str = "cosine",
    ) -> None:
        quantile_grid(1, spacing)  # validates spacing
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
        self.seed, self.spacing = seed, spacing
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
                    state.freeze_edges(self.bins, self.spacing)
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
