"""Drift statistics between a reference and a current distribution counted on the same bins.

Every method takes two arrays of non-negative counts over the same bins (a baseline's
``ref_counts`` and a current sketch's counts), so any sketch feeds them, and returns a
:class:`DriftResult`. The formulas, the smoothing of empty bins, the binning error of the KS
statistic and the effect size of each method are documented in ``docs/drift.md``.

One policy for empty input, in the spirit of scipy's "a too-small sample is not an error": when
either side counts nothing, no exception is raised and nothing is NaN; the result has
``statistic = 0.0``, ``effect_size = 0.0``, ``p_value = None`` and ``n_ref == 0`` or
``n_cur == 0`` (``result.empty`` is true). The decision layer reports it as
``"insufficient_data"``. Malformed input (negative or non-finite counts, shape mismatch) raises
``ValueError`` naming the parameter.

Every kernel (in ``_drift_kernels``) works on 2-D arrays, one row per feature, so that a
model's 1,000 features are evaluated in a handful of numpy calls (:func:`batch_drift`); the
per-feature functions are the one-row case.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from otelml.stats._drift_kernels import (
    _KERNELS,
    _kl,
    _pair,
    _psi,
    _Rows,
    _wasserstein,
)

# Re-exported: callers import these from here.
from otelml.stats._drift_kernels import FloatArray as FloatArray
from otelml.stats._drift_kernels import _representatives as _representatives
from otelml.stats._drift_kernels import representative_values as representative_values
from otelml.stats._drift_kernels import wasserstein_scale as wasserstein_scale
from otelml.stats._small_n import DEFAULT_ALPHA, min_detectable_effect

PSEUDO_COUNT: Final = 0.5
"""Pseudo-count added to every used bin by PSI and KL (Haldane–Anscombe correction)."""

METHODS: Final[tuple[str, ...]] = (
    "psi",
    "jensen_shannon",
    "kl_divergence",
    "hellinger",
    "chi_square",
    "g_test",
    "ks",
    "wasserstein",
)
"""Names of the drift methods, as found in :attr:`DriftResult.method`."""

ORDERED_METHODS: Final = frozenset({"ks", "wasserstein"})
"""Methods that need ordered (numeric) bins."""


def _empty_details() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True)
class DriftResult:
    """What one drift method says about a current distribution against its reference.

    Attributes
    ----------
    method : str
        One of :data:`METHODS`.
    statistic : float
        The method's statistic (PSI, distance, divergence, chi-square, G, KS D, W1/std).
    p_value : float or None
        Significance of "the two distributions differ"; None when not computed (empty input).
    effect_size : float
        A sample-size-free magnitude of the difference; see ``docs/drift.md`` per method.
    n_ref, n_cur : int
        Counts on each side (rounded sums of the count arrays).
    bins : int
        Number of bins (categories) compared.
    new_category_share : float
        Share of current values in categories absent from the baseline (categorical only).
    details : Mapping[str, float]
        Extra figures (bounds, scale, degrees of freedom, the component p-values); room to grow.
    min_detectable_effect : float
        The smallest effect, in ``effect_size``'s unit, that this method's test would call
        significant at these sample sizes and ``details["mde_alpha"]`` (default
        :data:`otelml.stats._small_n.DEFAULT_ALPHA`, the drift level): what ``"ok"`` can
        vouch for. For ``wasserstein`` it is the normal location shift in std units. ``inf``
        when nothing could be significant (an empty side, a single bin); NaN when unknown.
    """

    method: str
    statistic: float
    p_value: float | None
    effect_size: float
    n_ref: int
    n_cur: int
    bins: int
    new_category_share: float = 0.0
    details: Mapping[str, float] = field(default_factory=_empty_details)
    min_detectable_effect: float = math.nan

    @property
    def empty(self) -> bool:
        """True when either side counted nothing, so no comparison was possible."""
        return self.n_ref == 0 or self.n_cur == 0


# ------------------------------------------------------------------------------------------
# batch and per-feature entry points
# ------------------------------------------------------------------------------------------


def batch_drift(
    method: str,
    ref_counts: ArrayLike,
    cur_counts: ArrayLike,
    *,
    reps: ArrayLike | None = None,
    scale: ArrayLike | None = None,
    pseudo_count: float = PSEUDO_COUNT,
    bins: Sequence[int] | None = None,
    new_category_share: Sequence[float] | None = None,
    extra_details: Sequence[Mapping[str, float]] | None = None,
    cur_reps: ArrayLike | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> list[DriftResult]:
    """Return one :class:`DriftResult` per row of two ``(m, k)`` count arrays.

    Rows of different features may be zero-padded to a common ``k``: padded bins count
    nothing on either side and change no statistic. ``reps`` (``(m, k)``, increasing per row)
    and ``scale`` (``(m,)``) are required for ``"wasserstein"`` only. ``bins`` (each row's
    unpadded bin count, default ``k``), ``new_category_share`` and ``extra_details`` (merged
    into ``details``) are copied into the results, one entry per row. ``cur_reps``
    (``"wasserstein"`` only, default ``reps``) places the current's mass of each bin apart from
    the reference's (``otelml.stats._w1_reps``). ``alpha`` is the level of the
    ``min_detectable_effect`` of every result.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if not (math.isfinite(pseudo_count) and pseudo_count > 0):
        raise ValueError(f"pseudo_count must be positive and finite, got {pseudo_count!r}")
    ref, cur = _pair(ref_counts, cur_counts, ndim=2)
    m, k = ref.shape
    n_ref_f, n_cur_f = ref.sum(axis=1), cur.sum(axis=1)
    ok = (n_ref_f > 0) & (n_cur_f > 0)
    rows: _Rows | None = None
    if np.any(ok):
        r, c = ref[ok], cur[ok]
        if method == "wasserstein":
            if reps is None or scale is None:
                raise ValueError("reps and scale are required for method 'wasserstein'")
            v_all = np.asarray(reps, dtype=np.float64).reshape(m, k)
            v = v_all[ok]
            w = v if cur_reps is None else np.asarray(cur_reps, np.float64).reshape(m, k)[ok]
            s = np.asarray(scale, dtype=np.float64).reshape(m)[ok]
            rows = _wasserstein(r, c, v, s, w)
        elif method in ("psi", "kl_divergence"):
            rows = (_psi if method == "psi" else _kl)(r, c, pseudo_count)
        else:
            rows = _KERNELS[method](r, c)
    n_ref = [int(x) for x in np.rint(n_ref_f).tolist()]
    n_cur = [int(x) for x in np.rint(n_cur_f).tolist()]
    nbins = [k] * m if bins is None else list(bins)
    shares = [0.0] * m if new_category_share is None else list(new_category_share)
    extra = extra_details
    out: list[DriftResult] = []
    mde = [math.inf] * m
    if rows is not None:
        stat, pval, eff = rows.statistic.tolist(), rows.p_value.tolist(), rows.effect.tolist()
        df = rows.details.get("pooled_df", rows.details.get("df", np.zeros(int(ok.sum()))))
        found = min_detectable_effect(method, n_ref_f[ok], n_cur_f[ok], df, alpha)
        for i, v_mde in zip(np.nonzero(ok)[0].tolist(), found.tolist(), strict=True):
            mde[i] = v_mde
        rows.details["mde_alpha"] = np.full(found.size, alpha)
        cols = {key: val.tolist() for key, val in rows.details.items()}
    j = 0
    for i in range(m):
        if rows is None or not ok[i]:
            details: Mapping[str, float] = MappingProxyType(dict(extra[i]) if extra else {})
            out.append(
                DriftResult(
                    method,
                    0.0,
                    None,
                    0.0,
                    n_ref[i],
                    n_cur[i],
                    nbins[i],
                    shares[i],
                    details,
                    math.inf,
                )
            )
            continue
        d = {key: col[j] for key, col in cols.items()}
        if extra:
            d.update(extra[i])
        out.append(
            DriftResult(
                method,
                stat[j],
                pval[j],
                eff[j],
                n_ref[i],
                n_cur[i],
                nbins[i],
                shares[i],
                MappingProxyType(d),
                mde[i],
            )
        )
        j += 1
    return out


def _one(method: str, ref_counts: ArrayLike, cur_counts: ArrayLike, **kw: object) -> DriftResult:
    ref, cur = _pair(ref_counts, cur_counts)
    return batch_drift(method, ref[None, :], cur[None, :], **kw)[0]  # type: ignore[arg-type]


def psi(
    ref_counts: ArrayLike, cur_counts: ArrayLike, *, pseudo_count: float = PSEUDO_COUNT
) -> DriftResult:
    """Return the population stability index ``sum (q - p) ln(q / p)`` of current vs reference.

    ``pseudo_count`` is added to every bin used by either side (bins empty on both sides are
    dropped) so that empty bins give a finite value. The p-value uses the asymptotic law
    ``PSI / (1/n_ref + 1/n_cur) ~ chi2(k - 1)``. Effect size: PSI itself.
    """
    return _one("psi", ref_counts, cur_counts, pseudo_count=pseudo_count)


def kl_divergence(
    ref_counts: ArrayLike, cur_counts: ArrayLike, *, pseudo_count: float = PSEUDO_COUNT
) -> DriftResult:
    """Return the Kullback-Leibler divergence KL(reference || current) in nats, smoothed as PSI.

    p-value from ``2 n_eff KL ~ chi2(k - 1)``. Effect size: KL itself.
    """
    return _one("kl_divergence", ref_counts, cur_counts, pseudo_count=pseudo_count)


def jensen_shannon(ref_counts: ArrayLike, cur_counts: ArrayLike) -> DriftResult:
    """Return the Jensen-Shannon distance (base 2, in [0, 1]) between the two distributions.

    Equal to ``scipy.spatial.distance.jensenshannon(p, q, base=2)``; no smoothing is needed.
    p-value from ``8 n_eff JSD_nats ~ chi2(k - 1)``. Effect size: the distance.
    """
    return _one("jensen_shannon", ref_counts, cur_counts)


def hellinger(ref_counts: ArrayLike, cur_counts: ArrayLike) -> DriftResult:
    """Return the Hellinger distance ``sqrt(1/2 sum (sqrt p - sqrt q)^2)`` in [0, 1].

    p-value from ``8 n_eff H^2 ~ chi2(k - 1)``. Effect size: the distance.
    """
    return _one("hellinger", ref_counts, cur_counts)


def chi_square(ref_counts: ArrayLike, cur_counts: ArrayLike) -> DriftResult:
    """Return Pearson's chi-square test of homogeneity on the 2 x k table.

    Equal to ``scipy.stats.chi2_contingency`` without correction after dropping all-zero
    columns. Effect size: Cramér's V of the table with both rows scaled to equal totals.
    """
    return _one("chi_square", ref_counts, cur_counts)


def g_test(ref_counts: ArrayLike, cur_counts: ArrayLike) -> DriftResult:
    """Return the G-test (log-likelihood ratio) of homogeneity on the 2 x k table.

    Equal to ``chi2_contingency(..., lambda_="log-likelihood")`` without correction. Effect
    size: Cramér's V as for :func:`chi_square`.
    """
    return _one("g_test", ref_counts, cur_counts)


def ks_binned(
    ref_counts: ArrayLike, cur_counts: ArrayLike, *, edges: ArrayLike | None = None
) -> DriftResult:
    """Return the two-sample Kolmogorov-Smirnov statistic and p-value from binned CDFs.

    D is the largest CDF difference at the bin edges: a lower bound of the raw-sample KS
    statistic. ``details["statistic_upper_bound"]`` is an upper bound (see ``docs/drift.md``).
    p-value: ``scipy.stats.kstwo`` at ``n_eff = n_ref n_cur / (n_ref + n_cur)``, as
    ``ks_2samp(method="asymp")``. Effect size: D. ``edges``, if given, is checked against the
    number of bins.
    """
    ref, cur = _pair(ref_counts, cur_counts)
    if edges is not None and np.asarray(edges).size + 1 != ref.size:
        raise ValueError(f"edges has {np.asarray(edges).size} edges for {ref.size} bins")
    return _one("ks", ref, cur)


def wasserstein_binned(
    ref_counts: ArrayLike,
    cur_counts: ArrayLike,
    edges: ArrayLike,
    *,
    ref_std: float,
    ref_min: float = math.nan,
    ref_max: float = math.nan,
) -> DriftResult:
    """Return the Wasserstein-1 distance between the binned distributions, in units of ``ref_std``.

    Each bin's mass sits at its representative value (:func:`representative_values`). Equal to
    ``scipy.stats.wasserstein_distance(v, v, ref_counts, cur_counts) / ref_std``. A constant
    baseline (``ref_std == 0``) is reported in raw units. The p-value is the binned KS test's.
    Effect size: the normalised distance (for a pure location shift, the shift in std units).
    """
    ref, cur = _pair(ref_counts, cur_counts)
    scale = wasserstein_scale(ref_std)
    reps = representative_values(edges, ref_min=ref_min, ref_max=ref_max, scale=scale)
    if reps.size != ref.size:
        raise ValueError(f"edges has {reps.size - 1} edges for {ref.size} bins")
    return batch_drift(
        "wasserstein", ref[None, :], cur[None, :], reps=reps[None, :], scale=[scale]
    )[0]
