"""The drift decision: per-feature statuses that stay sane from 100 to 1,000,000 rows.

A raw p-value flags almost every feature at a million rows (tiny, harmless differences are
"significant") and misses real shifts at a hundred. So a feature is ``"drift"`` only when its
difference is both *real* -- Benjamini-Hochberg-adjusted p-value below ``fdr_alpha`` across the
model's features -- and *large enough to matter* -- effect size at or above the method's drift
threshold. Below ``min_samples`` current values the answer is ``"insufficient_data"``. Defaults
and the reasons for them are in ``docs/drift.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from otelml.stats.drift import METHODS, DriftResult

Status = Literal["ok", "warning", "drift", "insufficient_data"]
STATUSES: Final[tuple[str, ...]] = ("ok", "warning", "drift", "insufficient_data")
STATUS_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {"ok": 0, "warning": 1, "drift": 2, "insufficient_data": -1}
)
"""Gauge values of ``otelml_feature_drift_status`` and ``otelml_model_status``."""

DEFAULT_THRESHOLDS: Final[Mapping[str, tuple[float, float]]] = MappingProxyType(
    {
        # (warning, drift) on each method's effect size; see docs/drift.md for the reasons.
        "wasserstein": (0.1, 0.2),  # std units: Evidently's 0.1; 0.2 = Cohen's "small" shift
        "psi": (0.1, 0.2),  # the industry rule of thumb (Arize, Evidently, credit scoring)
        "jensen_shannon": (0.05, 0.1),  # NannyML's default JS threshold is 0.1
        "hellinger": (0.05, 0.1),  # NannyML's default Hellinger threshold is 0.1
        "kl_divergence": (0.05, 0.1),  # ~ PSI / 2 for small shifts
        "ks": (0.05, 0.1),  # D = 0.1 ~ a 0.25 std location shift of a normal
        "chi_square": (0.05, 0.1),  # balanced Cramér's V; Cohen's "small" w = 0.1
        "g_test": (0.05, 0.1),
    }
)


def _default_thresholds() -> Mapping[str, tuple[float, float]]:
    return DEFAULT_THRESHOLDS


@dataclass(frozen=True)
class DriftPolicy:
    """How :func:`decide` turns drift results into statuses.

    Attributes
    ----------
    fdr_alpha : float
        False discovery rate controlled by Benjamini-Hochberg across the features decided
        together (one model, one segment). Default 0.05.
    min_samples : int
        Fewer current values than this: ``"insufficient_data"``. Default 100.
    min_reference : int
        Fewer reference values than this: ``"insufficient_data"``. Default 100.
    thresholds : Mapping[str, tuple[float, float]]
        ``(warning, drift)`` effect-size thresholds per method (:data:`DEFAULT_THRESHOLDS`).
    warning_threshold, drift_threshold : float or None
        When set, override the per-method thresholds for every method.
    """

    fdr_alpha: float = 0.05
    min_samples: int = 100
    min_reference: int = 100
    thresholds: Mapping[str, tuple[float, float]] = field(default_factory=_default_thresholds)
    warning_threshold: float | None = None
    drift_threshold: float | None = None

    def thresholds_for(self, method: str) -> tuple[float, float]:
        """Return the ``(warning, drift)`` effect-size thresholds that apply to ``method``."""
        warn, drift = self.thresholds.get(method, DEFAULT_THRESHOLDS.get(method, (0.1, 0.2)))
        if self.warning_threshold is not None:
            warn = self.warning_threshold
        if self.drift_threshold is not None:
            drift = self.drift_threshold
        return warn, drift

    def validate(self) -> list[str]:
        """Return every problem with this policy, each prefixed by its field (empty when fine)."""
        errors: list[str] = []
        if not 0 < self.fdr_alpha < 1:
            errors.append(f"fdr_alpha: must be in (0, 1), got {self.fdr_alpha!r}")
        for name in ("min_samples", "min_reference"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                errors.append(f"{name}: must be an int >= 1, got {v!r}")
        for method, pair in self.thresholds.items():
            if method not in METHODS:
                errors.append(f"thresholds.{method}: unknown method (one of {METHODS})")
            elif len(pair) != 2 or not all(math.isfinite(t) and t >= 0 for t in pair):
                errors.append(f"thresholds.{method}: must be two finite numbers >= 0")
            elif pair[0] > pair[1]:
                errors.append(f"thresholds.{method}: warning {pair[0]} > drift {pair[1]}")
        for name in ("warning_threshold", "drift_threshold"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v >= 0):
                errors.append(f"{name}: must be a finite number >= 0 or None, got {v!r}")
        w, d = self.warning_threshold, self.drift_threshold
        if w is not None and d is not None and w > d:
            errors.append(f"warning_threshold: {w} > drift_threshold {d}")
        return errors


@dataclass(frozen=True)
class FeatureStatus:
    """The decision about one feature: its status, adjusted p-value and why."""

    status: Status
    p_adjusted: float | None
    reason: str

    @property
    def code(self) -> int:
        """Return the gauge value of the status (0 ok, 1 warning, 2 drift, -1 insufficient)."""
        return STATUS_CODES[self.status]


def benjamini_hochberg(p_values: ArrayLike) -> NDArray[np.float64]:
    """Return Benjamini-Hochberg adjusted p-values (as ``scipy.stats.false_discovery_control``).

    ``p_adj[i] = min over j with p_j >= p_i of p_j * m / rank_j``, capped at 1; rejecting
    ``p_adj < alpha`` controls the false discovery rate at ``alpha`` for independent or
    positively dependent tests.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D, got shape {p.shape}")
    if p.size == 0:
        return np.empty(0)
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("p_values must lie in [0, 1]")
    order = np.argsort(p, kind="stable")
    m = p.size
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def decide(
    results: Mapping[str, DriftResult], policy: DriftPolicy | None = None
) -> dict[str, FeatureStatus]:
    """Return a :class:`FeatureStatus` per feature of one model (or one segment of it).

    - ``"insufficient_data"``: an empty side, fewer than ``min_samples`` current or
      ``min_reference`` reference values. Such features are left out of the BH family.
    - ``"drift"``: BH-adjusted p-value < ``fdr_alpha`` and effect size >= the drift threshold.
    - ``"warning"``: adjusted p-value < ``fdr_alpha`` and effect size >= the warning threshold.
    - ``"ok"``: otherwise (not significant, or significant but too small to matter).

    A result without a p-value is decided on its effect size alone (its ``p_adjusted`` is None).
    """
    policy = DriftPolicy() if policy is None else policy
    errors = policy.validate()
    if errors:
        raise ValueError("policy: " + "; ".join(errors))
    out: dict[str, FeatureStatus] = {}
    tested: list[str] = []
    for name, r in results.items():
        if r.empty or r.n_cur < policy.min_samples or r.n_ref < policy.min_reference:
            out[name] = FeatureStatus(
                "insufficient_data",
                None,
                f"{r.n_cur} current / {r.n_ref} reference values; need "
                f">= {policy.min_samples} / >= {policy.min_reference}",
            )
        elif r.p_value is not None:
            tested.append(name)
    p_adj = benjamini_hochberg([float(results[n].p_value or 0.0) for n in tested])
    adjusted = dict(zip(tested, p_adj.tolist(), strict=True))
    for name, r in results.items():
        if name in out:
            continue
        warn, drift = policy.thresholds_for(r.method)
        pa = adjusted.get(name)
        significant = pa is None or pa < policy.fdr_alpha
        sig = "no p-value" if pa is None else f"p_adj={pa:.3g}"
        effect = f"{r.method} effect {r.effect_size:.3g}"
        status: Status
        if not significant:
            status, why = "ok", f"not significant ({sig} >= {policy.fdr_alpha}); {effect}"
        elif r.effect_size >= drift:
            status, why = "drift", f"{effect} >= {drift} and {sig}"
        elif r.effect_size >= warn:
            status, why = "warning", f"{effect} >= {warn} (drift at {drift}) and {sig}"
        else:
            status, why = "ok", f"{effect} < {warn}, too small to matter ({sig})"
        out[name] = FeatureStatus(status, pa, why)
    return out


_SEVERITY: Final = {"insufficient_data": 0, "ok": 1, "warning": 2, "drift": 3}


def model_status(statuses: Mapping[str, FeatureStatus] | Iterable[FeatureStatus]) -> Status:
    """Return the worst status; ``"insufficient_data"`` only when no feature could be decided."""
    values = statuses.values() if isinstance(statuses, Mapping) else statuses
    worst: Status = "insufficient_data"
    for s in values:
        if _SEVERITY[s.status] > _SEVERITY[worst]:
            worst = s.status
    return worst


def rank_features(
    results: Mapping[str, DriftResult],
    importances: Mapping[str, float] | None = None,
    policy: DriftPolicy | None = None,
) -> list[tuple[str, float]]:
    """Return ``(feature, score)`` pairs, most drifted first.

    ``score = effect_size / drift threshold of its method * importance``: 1.0 means "at the
    drift threshold" for an importance of 1, so features measured by different methods rank
    on one scale. A missing importance counts as 1; empty results score 0. Ties: by name.
    """
    policy = DriftPolicy() if policy is None else policy
    scored = []
    for name, r in results.items():
        _, drift = policy.thresholds_for(r.method)
        imp = 1.0 if importances is None else float(importances.get(name, 1.0))
        base = 0.0 if r.empty else r.effect_size / drift if drift > 0 else r.effect_size
        scored.append((name, base * imp))
    scored.sort(key=lambda t: (-t[1], t[0]))
    return scored
