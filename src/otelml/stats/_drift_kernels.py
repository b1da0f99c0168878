"""Row kernels of the drift methods, and the bin representatives of the binned Wasserstein.

Each kernel takes ``(m, k)`` arrays of reference and current counts, one row per feature, and
returns every row's statistic, p-value, effect size and details in a handful of numpy calls;
:func:`otelml.stats.drift.batch_drift` wraps them into ``DriftResult`` objects. The formulas are
documented in ``docs/drift.md``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from otelml.stats._small_n import (
    CATEGORY_TESTS,
    ORDERED_TESTS,
    outside_p,
    pooled_chi2_p,
    rank_p,
    unseen_p,
)
from otelml.stats._w1_reps import two_point_w1

FloatArray = NDArray[np.float64]


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
    return _categories_rows(r, c, stat, _chi2_sf(stat, df), _cramers_v(p, q), df)


def _categories_rows(
    r: FloatArray,
    c: FloatArray,
    stat: FloatArray,
    p_asym: FloatArray,
    v: FloatArray,
    df: FloatArray,
) -> _Rows:
    # The asymptotic chi-square law fails on small expected counts (false alarms at small n,
    # tables/sparse categories); the decision's p-value is valid at every n: pooled Pearson
    # chi-square and the exact test of unseen-category mass, Bonferroni-combined.
    p_pool, df_pool = pooled_chi2_p(r, c)
    p_new = unseen_p(r, c)
    p = np.minimum(1.0, CATEGORY_TESTS * np.minimum(p_pool, p_new))
    details = {"df": df, "p_value_asymptotic": p_asym, "pooled_df": df_pool}
    details["p_value_pooled"], details["p_value_unseen"] = p_pool, p_new
    return _Rows(stat, p, v, details)


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
    return _categories_rows(r, c, stat, _chi2_sf(stat, df), _cramers_v(p, q), df)


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


def _wasserstein(
    r: FloatArray, c: FloatArray, reps: FloatArray, scale: FloatArray, cur_reps: FloatArray
) -> _Rows:
    ks = _ks(r, c)
    raw = two_point_w1(r, c, reps, cur_reps)
    stat = raw / scale
    # W1 has no closed-form test. Three tests of the same hypothesis on the same counts, each
    # valid at small n, cover what W1 reacts to: KS (any change of shape), Wilcoxon-Mann-
    # Whitney (a location shift, more efficiently) and the exact test of mass beyond the
    # reference's range (a few far values that neither rank test weighs). Bonferroni keeps
    # the level whatever their dependence.
    p_rank, p_out = rank_p(r, c), outside_p(r, c)
    p = np.minimum(1.0, ORDERED_TESTS * np.minimum(np.minimum(ks.p_value, p_rank), p_out))
    details = {"raw_distance": raw, "scale": scale, "ks_statistic": ks.statistic}
    details["p_value_ks"], details["p_value_rank"], details["p_value_outside"] = (
        ks.p_value,
        p_rank,
        p_out,
    )
    return _Rows(stat, p, stat, details)


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


_KERNELS = {
    "jensen_shannon": _js,
    "hellinger": _hellinger,
    "chi_square": _chi_square,
    "g_test": _g_test,
    "ks": _ks,
}
