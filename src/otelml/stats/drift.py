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

Every kernel below works on 2-D arrays, one row per feature, so that a model's 1,000 features
are evaluated in a handful of numpy calls (:func:`batch_drift`); the per-feature functions are
the one-row case.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

FloatArray = NDArray[np.float64]

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
        Extra figures (bounds, scale, degrees of freedom); room to grow.
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

    @property
    def empty(self) -> bool:
        """True when either side counted nothing, so no comparison was possible."""
        return self.n_ref == 0 or self.n_cur == 0


# ------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------


def _as_counts(counts: ArrayLike, name: str, ndim: int = 1) -> FloatArray:
    try:
        arr = np.asarray(counts, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers: {exc}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if arr.shape[-1] == 0:
        raise ValueError(f"{name} must count at least one bin")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative")
    return arr


def _pair(ref_counts: ArrayLike, cur_counts: ArrayLike, ndim: int = 1) -> tuple[FloatArray, ...]:
    ref = _as_counts(ref_counts, "ref_counts", ndim)
    cur = _as_counts(cur_counts, "cur_counts", ndim)
    if ref.shape != cur.shape:
        raise ValueError(
            f"cur_counts has shape {cur.shape} but ref_counts has {ref.shape}: "
            "they must count the same bins"
        )
    return ref, cur


# ------------------------------------------------------------------------------------------
# row kernels: r, c are (m, k) float arrays whose rows all have positive sums
# ------------------------------------------------------------------------------------------


@dataclass
class _Rows:
    """Statistic, p-value, effect size and details of m rows."""

    statistic: FloatArray
    p_value: FloatArray
    effect: FloatArray
    details: dict[str, FloatArray]


def _chi2_sf(x: FloatArray, df: FloatArray) -> FloatArray:
    # One used bin leaves no degree of freedom: nothing can differ, p = 1 (as scipy).
    # special.chdtrc is chi2.sf without the rv_continuous overhead (~200 us per call).
    p: FloatArray = np.where(df > 0, special.chdtrc(np.maximum(df, 1.0), x), 1.0)
    return p


def _totals(r: FloatArray, c: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    n_r = r.sum(axis=1)
    n_c = c.sum(axis=1)
    return n_r, n_c, n_r * n_c / (n_r + n_c)


def _smoothed(r: FloatArray, c: FloatArray, a: float) -> tuple[FloatArray, ...]:
    """Proportions after adding ``a`` to every used bin; unused bins become 1 vs 1 (no term)."""
    used = (r + c) > 0
    rs = np.where(used, r + a, 0.0)
    cs = np.where(used, c + a, 0.0)
    ps = rs / rs.sum(axis=1, keepdims=True)
    qs = cs / cs.sum(axis=1, keepdims=True)
    return np.where(used, ps, 1.0), np.where(used, qs, 1.0), used.sum(axis=1).astype(np.float64)


def _psi(r: FloatArray, c: FloatArray, a: float) -> _Rows:
    _, _, n_eff = _totals(r, c)
    ps, qs, k = _smoothed(r, c, a)
    stat = np.sum((qs - ps) * np.log(qs / ps), axis=1)
    # Yurdakul & Naranjo: PSI / (1/n_r + 1/n_c) ~ chi2(k - 1) under equal distributions.
    return _Rows(stat, _chi2_sf(stat * n_eff, k - 1), stat, {"df": k - 1})


def _kl(r: FloatArray, c: FloatArray, a: float) -> _Rows:
    _, _, n_eff = _totals(r, c)
    ps, qs, k = _smoothed(r, c, a)
    stat = np.sum(special.rel_entr(ps, qs), axis=1)
    return _Rows(stat, _chi2_sf(2.0 * n_eff * stat, k - 1), stat, {"df": k - 1})


def _props(r: FloatArray, c: FloatArray) -> tuple[FloatArray, FloatArray]:
    return r / r.sum(axis=1, keepdims=True), c / c.sum(axis=1, keepdims=True)


def _used_bins(r: FloatArray, c: FloatArray) -> FloatArray:
    k: FloatArray = ((r + c) > 0).sum(axis=1).astype(np.float64)
    return k


def _js(r: FloatArray, c: FloatArray) -> _Rows:
    _, _, n_eff = _totals(r, c)
    p, q = _props(r, c)
    m = 0.5 * (p + q)
    jsd = 0.5 * (special.rel_entr(p, m).sum(axis=1) + special.rel_entr(q, m).sum(axis=1))
    dist = np.sqrt(np.clip(jsd / math.log(2.0), 0.0, 1.0))
    df = _used_bins(r, c) - 1
    return _Rows(dist, _chi2_sf(8.0 * n_eff * jsd, df), dist, {"df": df})


def _hellinger(r: FloatArray, c: FloatArray) -> _Rows:
    _, _, n_eff = _totals(r, c)
    p, q = _props(r, c)
    h2 = np.clip(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2, axis=1), 0.0, 1.0)
    df = _used_bins(r, c) - 1
    h = np.sqrt(h2)
    return _Rows(h, _chi2_sf(8.0 * n_eff * h2, df), h, {"df": df})


def _cramers_v(p: FloatArray, q: FloatArray) -> FloatArray:
    """Cramér's V of the 2 x k table with both rows scaled to equal totals (size-free)."""
    s = p + q
    ratio = np.divide((p - q) ** 2, s, out=np.zeros_like(s), where=s > 0)
    v: FloatArray = np.sqrt(np.clip(0.5 * ratio.sum(axis=1), 0.0, 1.0))
    return v


def _chi_square(r: FloatArray, c: FloatArray) -> _Rows:
    n_r, n_c, _ = _totals(r, c)
    p, q = _props(r, c)
    # sum (O - E)^2 / E over the 2 x k table, rewritten on proportions so that counts near
    # 1e12 lose no precision: chi2 = sum_j (p_j - q_j)^2 / (p_j / n_c + q_j / n_r).
    den = p / n_c[:, None] + q / n_r[:, None]
    stat = np.divide((p - q) ** 2, den, out=np.zeros_like(den), where=den > 0).sum(axis=1)
    df = _used_bins(r, c) - 1
    return _Rows(stat, _chi2_sf(stat, df), _cramers_v(p, q), {"df": df})


def _g_test(r: FloatArray, c: FloatArray) -> _Rows:
    n_r, n_c, _ = _totals(r, c)
    p, q = _props(r, c)
    n = n_r + n_c
    m = (r + c) / n[:, None]
    stat = 2.0 * (
        n_r * special.rel_entr(p, m).sum(axis=1) + n_c * special.rel_entr(q, m).sum(axis=1)
    )
    stat = np.maximum(stat, 0.0)
    df = _used_bins(r, c) - 1
    return _Rows(stat, _chi2_sf(stat, df), _cramers_v(p, q), {"df": df})


def _ks_sf(d: FloatArray, n_eff: FloatArray) -> FloatArray:
    # The asymptotic Kolmogorov law with Stephens' finite-n correction of the argument:
    # within 4% (relative) of scipy's kstwo.sf(d, round(n_eff)) -- ks_2samp's "asymp" -- for
    # 1e-4 < p < 0.2 and n_eff >= 30 (tested), and a cheap ufunc, whereas kstwo.sf costs
    # milliseconds to seconds per value at large n.
    sn = np.sqrt(n_eff)
    p: FloatArray = np.clip(special.kolmogorov((sn + 0.12 + 0.11 / sn) * d), 0.0, 1.0)
    return p


def _cdfs(r: FloatArray, c: FloatArray) -> tuple[FloatArray, FloatArray]:
    """CDFs at the bin edges with F = 0 prepended: shape (m, k + 1), last column 1."""
    p, q = _props(r, c)
    zero = np.zeros((r.shape[0], 1))
    f_r = np.concatenate([zero, np.cumsum(p, axis=1)], axis=1)
    f_c = np.concatenate([zero, np.cumsum(q, axis=1)], axis=1)
    f_r[:, -1] = 1.0
    f_c[:, -1] = 1.0
    return f_r, f_c


def _ks(r: FloatArray, c: FloatArray) -> _Rows:
    _, _, n_eff = _totals(r, c)
    f_r, f_c = _cdfs(r, c)
    d = np.abs(f_r - f_c).max(axis=1)
    # Within bin i both ECDFs rise monotonically from F(e_{i-1}) to F(e_i), so the true
    # supremum is at most max(F_r(e_i) - F_c(e_{i-1}), F_c(e_i) - F_r(e_{i-1})).
    upper = np.maximum(f_r[:, 1:] - f_c[:, :-1], f_c[:, 1:] - f_r[:, :-1]).max(axis=1)
    upper = np.clip(np.maximum(upper, d), 0.0, 1.0)
    details = {"statistic_upper_bound": upper, "p_value_lower_bound": _ks_sf(upper, n_eff)}
    details["n_eff"] = n_eff
    return _Rows(d, _ks_sf(d, n_eff), d, details)


def _wasserstein(r: FloatArray, c: FloatArray, reps: FloatArray, scale: FloatArray) -> _Rows:
    ks = _ks(r, c)
    f_r, f_c = _cdfs(r, c)
    raw = np.sum(np.abs(f_r[:, 1:-1] - f_c[:, 1:-1]) * np.diff(reps, axis=1), axis=1)
    stat = raw / scale
    details = {"raw_distance": raw, "scale": scale, "ks_statistic": ks.statistic}
    # W1 has no closed-form test; the binned KS test on the same counts tests the same
    # hypothesis (equal distributions) and supplies the p-value.
    return _Rows(stat, ks.p_value, stat, details)


# ------------------------------------------------------------------------------------------
# representative values for Wasserstein
# ------------------------------------------------------------------------------------------


def representative_values(
    edges: ArrayLike, *, ref_min: float = math.nan, ref_max: float = math.nan, scale: float = 1.0
) -> FloatArray:
    """Return one representative value per bin of ``edges`` (k edges -> k + 1 values).

    Inner bins use their midpoint. The open bottom bin uses the midpoint of the baseline's
    ``[ref_min, e_0]`` when ``ref_min`` is finite, but at most one neighbouring inner-bin width
    below ``e_0``: an outlier minimum would otherwise put the whole tail far out and overweight
    it (for normal deciles this lands within 0.05 std of the tail's conditional mean). Without
    ``ref_min`` it is ``e_0`` minus half the neighbouring inner bin (``scale / 2`` when there
    is none). The open top bin mirrors this with ``ref_max``.
    """
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise ValueError("edges must be a 1-D strictly increasing array of finite numbers")
    return _representatives(e.tolist(), ref_min, ref_max, scale)


def _representatives(e: list[float], ref_min: float, ref_max: float, scale: float) -> FloatArray:
    """:func:`representative_values` on already validated edges (plain floats: fast)."""
    if not e:
        return np.zeros(1)
    inner = [0.5 * (a + b) for a, b in itertools.pairwise(e)]
    w_lo = e[1] - e[0] if len(e) > 1 else math.inf
    w_hi = e[-1] - e[-2] if len(e) > 1 else math.inf
    half_lo = 0.5 * w_lo if len(e) > 1 else 0.5 * scale
    half_hi = 0.5 * w_hi if len(e) > 1 else 0.5 * scale
    if math.isfinite(ref_min) and ref_min <= e[0]:
        lo = e[0] - min(0.5 * (e[0] - ref_min), w_lo)
    else:
        lo = e[0] - half_lo
    if math.isfinite(ref_max) and ref_max > e[-1]:
        hi = e[-1] + min(0.5 * (ref_max - e[-1]), w_hi)
    else:
        hi = e[-1] + half_hi
    return np.array([lo, *inner, hi])


def wasserstein_scale(ref_std: float) -> float:
    """Return the divisor of W1: ``ref_std`` if positive, else 1 (constant baseline: raw units)."""
    if not math.isfinite(ref_std) or ref_std < 0:
        raise ValueError(f"ref_std must be finite and non-negative, got {ref_std!r}")
    return ref_std if ref_std > 0 else 1.0


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
) -> list[DriftResult]:
    """Return one :class:`DriftResult` per row of two ``(m, k)`` count arrays.

    Rows of different features may be zero-padded to a common ``k``: padded bins count
    nothing on either side and change no statistic. ``reps`` (``(m, k)``, increasing per row)
    and ``scale`` (``(m,)``) are required for ``"wasserstein"`` only. ``bins`` (each row's
    unpadded bin count, default ``k``), ``new_category_share`` and ``extra_details`` (merged
    into ``details``) are copied into the results, one entry per row.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
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
            v = np.asarray(reps, dtype=np.float64).reshape(m, k)[ok]
            s = np.asarray(scale, dtype=np.float64).reshape(m)[ok]
            rows = _wasserstein(r, c, v, s)
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
    if rows is not None:
        stat, pval, eff = rows.statistic.tolist(), rows.p_value.tolist(), rows.effect.tolist()
        cols = {key: val.tolist() for key, val in rows.details.items()}
    j = 0
    for i in range(m):
        if rows is None or not ok[i]:
            details: Mapping[str, float] = MappingProxyType(dict(extra[i]) if extra else {})
            out.append(
                DriftResult(
                    method, 0.0, None, 0.0, n_ref[i], n_cur[i], nbins[i], shares[i], details
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
            )
        )
        j += 1
    return out


_KERNELS = {
    "jensen_shannon": _js,
    "hellinger": _hellinger,
    "chi_square": _chi_square,
    "g_test": _g_test,
    "ks": _ks,
}


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
