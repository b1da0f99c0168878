"""The drift decision: per-feature statuses that are right from 20 to 1,000,000 rows.

A raw p-value flags almost every feature at a million rows (tiny, harmless differences are
"significant") and misses real shifts at a hundred. So a feature is ``"drift"`` only when its
difference is both *certain* -- Benjamini-Hochberg-adjusted p-value below ``drift_alpha``
(0.001) across the features decided together -- and *large enough to matter* -- effect size at
or above the method's drift threshold. ``"warning"`` asks for less certainty (``fdr_alpha``,
0.05) and a smaller effect. The p-values are valid at small samples (``otelml.stats._small_n``),
so a 20-row window far outside the baseline is ``"drift"`` while a 20-row window that merely
looks different stays ``"ok"`` and says which effect it could have detected
(``min_detectable_effect``). Defaults and the measurements behind them are in
``docs/drift.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from otelml.stats._small_n import DEFAULT_ALPHA, min_detectable_effect
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
        # std units: drift at Evidently's 0.1; measured detection curves in docs/drift.md
        "wasserstein": (0.05, 0.1),
        "psi": (0.1, 0.2),  # the industry rule of thumb (Arize, Evidently, credit scoring)
        "jensen_shannon": (0.05, 0.1),  # NannyML's default JS threshold is 0.1
        "hellinger": (0.05, 0.1),  # NannyML's default Hellinger threshold is 0.1
        "kl_divergence": (0.05, 0.1),  # ~ PSI / 2 for small shifts
        "ks": (0.05, 0.1),  # D = 0.1 ~ a 0.25 std location shift of a normal
        # balanced Cramér's V: the smallest 10-point mass move (between two categories near
        # half the mass each) is V ~ 0.1, so drift sits below it (measured, docs/drift.md)
        "chi_square": (0.035, 0.07),
        "g_test": (0.035, 0.07),
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
        False discovery rate of ``"warning"``, controlled by Benjamini-Hochberg across the
        features decided together (one model, one segment). Default 0.05.
    min_samples : int
        Fewer current values than this: ``"insufficient_data"``. Default 20. The tests are
        valid below it; it only keeps alerts off windows too small to act on.
    min_reference : int
        Fewer reference values than this: ``"insufficient_data"``. Default 20.
    thresholds : Mapping[str, tuple[float, float]]
        ``(warning, drift)`` effect-size thresholds per method (:data:`DEFAULT_THRESHOLDS`).
    warning_threshold, drift_threshold : float or None
        When set, override the per-method thresholds for every method.
    drift_alpha : float
        BH-adjusted p-value below which a large enough effect is ``"drift"``
        (at most ``fdr_alpha``). Default 0.001: false ``"drift"`` at most 0.1 % per feature
        on unchanged data at any sample size.
    """

    fdr_alpha: float = 0.05
    min_samples: int = 20
    min_reference: int = 20
    thresholds: Mapping[str, tuple[float, float]] = field(default_factory=_default_thresholds)
    warning_threshold: float | None = None
    drift_threshold: float | None = None
    drift_alpha: float = DEFAULT_ALPHA

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
        if not 0 < self.drift_alpha < 1:
            errors.append(f"drift_alpha: must be in (0, 1), got {self.drift_alpha!r}")
        elif self.drift_alpha > self.fdr_alpha:
            errors.append(f"drift_alpha: {self.drift_alpha} > fdr_alpha {self.fdr_alpha}")
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
    """The decision about one feature: its status, adjusted p-value, why, and what ok can vouch for.

    ``min_detectable_effect`` is the smallest effect (in the method's unit) that would have
    been significant at ``drift_alpha`` with this window's and the baseline's sizes (before
    the BH adjustment, which raises it when many features are decided together); inf when
    nothing could be, NaN when unknown.
    """

    status: Status
    p_adjusted: float | None
    reason: str
    min_detectable_effect: float = math.nan

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
    results: Mapping[str, DriftResult],
    policy: DriftPolicy | None = None,
    *,
    separate: Iterable[str] = (),
) -> dict[str, FeatureStatus]:
    """Return a :class:`FeatureStatus` per feature of one model (or one segment of it).

    - ``"insufficient_data"``: an empty side, fewer than ``min_samples`` current or
      ``min_reference`` reference values, or sizes at which no difference of the effect's
      kind could be significant (and none was). Such features are left out of the BH family.
    - ``"drift"``: BH-adjusted p-value < ``drift_alpha`` and effect size >= the drift threshold.
    - ``"warning"``: otherwise, adjusted p-value < ``fdr_alpha`` and effect size >= the
      warning threshold.
    - ``"ok"``: otherwise (not significant, or significant but too small to matter).

    ``separate`` names results decided each in a Benjamini-Hochberg family of its own -- the
    model's prediction: "did the output move?" is its own question, and should neither dilute
    nor be diluted by the features'. The offline report and the processor both call
    ``decide(results, policy, separate=[prediction_name])`` on the same results, so they agree.
    A result without a p-value is decided on its effect size alone (its ``p_adjusted`` is None).
    """
    policy = DriftPolicy() if policy is None else policy
    errors = policy.validate()
    if errors:
        raise ValueError("policy: " + "; ".join(errors))
    mde = _detectable(results, policy.drift_alpha)
    out: dict[str, FeatureStatus] = {}
    families: dict[str, list[str]] = {}
    alone = set(separate)
    for name, r in results.items():
        if r.empty or r.n_cur < policy.min_samples or r.n_ref < policy.min_reference:
            out[name] = FeatureStatus(
                "insufficient_data",
                None,
                f"{r.n_cur} current / {r.n_ref} reference values; need "
                f">= {policy.min_samples} / >= {policy.min_reference}",
                math.inf if r.empty else mde[name],
            )
        elif math.isinf(mde[name]) and (r.p_value is None or r.p_value >= policy.fdr_alpha):
            # Nothing measured on this scale could be significant (e.g. every category too
            # rare to count at this n) -- unless another component test already is (mass in
            # categories never seen): then it is decided as usual.
            out[name] = FeatureStatus(
                "insufficient_data",
                None,
                f"no difference could be significant with {r.n_cur} current / {r.n_ref} "
                f"reference values in {r.bins} bins",
                math.inf,
            )
        elif r.p_value is not None:
            families.setdefault(name if name in alone else "", []).append(name)
    adjusted: dict[str, float] = {}
    for members in families.values():
        p_adj = benjamini_hochberg([float(results[n].p_value or 0.0) for n in members])
        adjusted.update(zip(members, p_adj.tolist(), strict=True))
    for name, r in results.items():
        if name not in out:
            out[name] = _status(r, adjusted.get(name), mde[name], policy)
    return out


def _status(r: DriftResult, pa: float | None, mde: float, policy: DriftPolicy) -> FeatureStatus:
    warn, drift = policy.thresholds_for(r.method)
    sig = "no p-value" if pa is None else f"p_adj={pa:.3g}"
    effect = f"{r.method} effect {r.effect_size:.3g}"
    can = f"detectable from {mde:.3g} at n={r.n_cur}"
    certain = pa is None or pa < policy.drift_alpha
    significant = pa is None or pa < policy.fdr_alpha
    status: Status
    if certain and r.effect_size >= drift:
        status, why = "drift", f"{effect} >= {drift} and {sig} < {policy.drift_alpha}"
    elif significant and r.effect_size >= warn:
        status, why = "warning", f"{effect} >= {warn} (drift at {drift}) and {sig}"
    elif not significant:
        status, why = "ok", f"not significant ({sig} >= {policy.fdr_alpha}); {effect}; {can}"
    else:
        status, why = "ok", f"{effect} < {warn}, too small to matter ({sig}); {can}"
    return FeatureStatus(status, pa, why, mde)


def _detectable(results: Mapping[str, DriftResult], alpha: float) -> dict[str, float]:
    """Return each result's minimum detectable effect at ``alpha`` (batched per method)."""
    out: dict[str, float] = {}
    redo: dict[str, list[str]] = {}
    for name, r in results.items():
        if r.empty:
            out[name] = math.inf
        elif r.details.get("mde_alpha") == alpha and not math.isnan(r.min_detectable_effect):
            out[name] = r.min_detectable_effect
        else:
            redo.setdefault(r.method, []).append(name)
    for method, names in redo.items():
        rs = [results[n] for n in names]
        # A hand-made result without degrees of freedom: all its bins count.
        df = np.array([r.details.get("pooled_df", r.details.get("df", r.bins - 1.0)) for r in rs])
        n_ref = np.array([float(r.n_ref) for r in rs])
        n_cur = np.array([float(r.n_cur) for r in rs])
        found = min_detectable_effect(method, n_ref, n_cur, df, alpha)
        out.update(zip(names, found.tolist(), strict=True))
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
