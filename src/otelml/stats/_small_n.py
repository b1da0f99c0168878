"""Tests on binned data that stay valid at small samples, and the minimum detectable effect.

The asymptotic chi-square laws behind the categorical p-values break down when expected counts
are small (a 500-category feature seen 20 times is all small cells, and a single value in a
cell the reference rarely uses gives chi-square in the hundreds), and the binned KS test alone
is blind to a few values far outside the reference's range. These row kernels (``(m, k)``
count arrays, one row per feature, rows with positive totals) add what the decision needs:

- :func:`rank_p`: the Wilcoxon-Mann-Whitney test on the bins as groups of mid-ranks, the
  efficient test of a location shift;
- :func:`outside_p`: the exact (rank) test of current values beyond the reference's min /
  max, which catches a few far values whatever the sample size;
- :func:`pooled_chi2_p`: Pearson's chi-square after pooling the cells whose expected count in
  the smaller sample is below 5 (Cochran's rule), so its chi-square law holds;
- :func:`unseen_p`: the exact test of mass in cells the reference never saw (new categories);
- :func:`min_detectable_effect`: the smallest effect, in the method's unit, at which the
  decision's test reaches ``alpha`` at these sample sizes.

Each is checked against scipy in ``tests/stats/test_small_n.py``; ``docs/drift.md`` explains
how the decision combines them.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy import special

FloatArray = NDArray[np.float64]

DEFAULT_ALPHA: Final = 0.001
"""Significance of ``"drift"`` (BH-adjusted), and the level of the minimum detectable effect."""
MIN_EXPECTED: Final = 5.0
"""Cells expecting fewer values than this in the smaller sample are pooled (Cochran's rule)."""


def _log_comb(a: FloatArray, b: FloatArray) -> FloatArray:
    out: FloatArray = special.gammaln(a + 1) - special.gammaln(b + 1) - special.gammaln(a - b + 1)
    return out


def _all_in_current(count: FloatArray, n_r: FloatArray, n_c: FloatArray) -> FloatArray:
    """Return ``C(n_c, count) / C(N, count)``: the chance that ``count`` given values of the
    pooled sample all fall in the current one (1 for ``count = 0``)."""
    n = n_r + n_c
    log_p = _log_comb(n_c, np.minimum(count, n_c)) - _log_comb(n, count)
    p: FloatArray = np.where(count > 0, np.where(count <= n_c, np.exp(log_p), 0.0), 1.0)
    return p


def outside_p(r: FloatArray, c: FloatArray) -> FloatArray:
    """Return the exact p-value of "more current values beyond the reference's min or max".

    The outer bins ``(-inf, e_0]`` and ``(e_{k-1}, +inf)`` of a baseline whose edges include
    its min and max hold only the reference's minimum and nothing above its maximum. Under
    "same distribution" the pooled values are exchangeable, so the chance that the ``j``
    largest pooled values all come from the current sample -- ``j`` current values above the
    reference's maximum -- is ``C(n_cur, j) / C(N, j)`` (and the same below the minimum).
    The two sides are Bonferroni-combined. The bottom side is tested only when the bin holds
    the reference's minimum alone (continuous data): with ties at the minimum, values equal
    to it cannot be told from values below it.
    """
    n_r, n_c = r.sum(axis=1), c.sum(axis=1)
    p_hi = np.where(r[:, -1] == 0, _all_in_current(c[:, -1], n_r, n_c), 1.0)
    p_lo = np.where(r[:, 0] <= 1, _all_in_current(c[:, 0], n_r, n_c), 1.0)
    out: FloatArray = np.minimum(1.0, 2.0 * np.minimum(p_lo, p_hi))
    return out


def unseen_p(r: FloatArray, c: FloatArray) -> FloatArray:
    """Return the p-value of "a category the reference never saw holds many current values".

    Given a category's pooled total ``t``, the chance that all ``t`` values are current ones
    is ``C(n_cur, t) / C(N, t)`` under "same distribution" (exact, whatever the category
    probabilities). The smallest such chance over the categories absent from the reference,
    Bonferroni-corrected by the number of categories in the table, is a valid p-value: a
    rare category seen once in the window scores ``n_cur / N`` x k, never significant; six
    values of a new category in a 20-row window against 200 reference rows, 3e-7 x k.
    """
    n_r, n_c = r.sum(axis=1), c.sum(axis=1)
    unseen = (r == 0) & (c > 0)
    chance = _all_in_current(np.where(unseen, c, 0.0), n_r[:, None], n_c[:, None])
    best = np.where(unseen, chance, 1.0).min(axis=1)
    k = ((r + c) > 0).sum(axis=1)
    out: FloatArray = np.minimum(1.0, k * best)
    return out


def rank_p(r: FloatArray, c: FloatArray) -> FloatArray:
    """Return the two-sided Wilcoxon-Mann-Whitney p-value with the bins as groups of mid-ranks.

    The statistic uses mid-ranks (each bin's values share the average of their ranks); its
    variance is the untied ``n_r n_c (N + 1) / 12``, normal law with continuity correction.
    The tie-corrected variance would be right if the values of a bin were truly equal, but the
    bins are quantiles *of the reference sample*, so the tie structure depends on the labels
    and the corrected test flagged 3.3 % of unchanged 50-row windows at 1.67 %; mid-ranking
    only shrinks the statistic's spread (it averages the raw ranks), so the untied variance
    keeps the test conservative, also for real ties (integer data).
    """
    n_r, n_c = r.sum(axis=1), c.sum(axis=1)
    n = n_r + n_c
    t = r + c
    before = np.cumsum(t, axis=1) - t
    midrank = before + (t + 1.0) / 2.0
    u = (c * midrank).sum(axis=1) - n_c * (n_c + 1.0) / 2.0
    mu = n_r * n_c / 2.0
    var = n_r * n_c / 12.0 * (n + 1.0)
    dev = np.maximum(np.abs(u - mu) - 0.5, 0.0)
    z = np.divide(dev, np.sqrt(var), out=np.zeros_like(dev), where=var > 0)
    p: FloatArray = np.clip(2.0 * special.ndtr(-z), 0.0, 1.0)
    return p


def pooled_chi2_p(r: FloatArray, c: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return Pearson's chi-square p-value after pooling small cells, and its degrees of freedom.

    A cell is small when ``(r_j + c_j) * min(n_r, n_c) / N``, its expected count in the
    smaller sample, is below :data:`MIN_EXPECTED`. Small cells are summed into one; if that
    pool still expects fewer than :data:`MIN_EXPECTED`, it joins the smallest large cell (or,
    when every cell is small, the table has one cell: p = 1). Pooling depends only on the
    column totals, which are ancillary for homogeneity, so the test keeps its level.
    """
    n_r, n_c = r.sum(axis=1), c.sum(axis=1)
    n = n_r + n_c
    scale = (np.minimum(n_r, n_c) / n)[:, None]
    t = r + c
    small = (t * scale < MIN_EXPECTED) & (t > 0)
    pool_r = np.where(small, r, 0.0).sum(axis=1)
    pool_c = np.where(small, c, 0.0).sum(axis=1)
    rr = np.where(small, 0.0, r)
    cc = np.where(small, 0.0, c)
    weak = (pool_r + pool_c) * scale[:, 0] < MIN_EXPECTED
    big = t > 0
    big &= ~small
    target = np.argmin(np.where(big, t, np.inf), axis=1)
    has_big = big.any(axis=1)
    join = weak & has_big
    rows = np.nonzero(join)[0]
    rr[rows, target[rows]] += pool_r[rows]
    cc[rows, target[rows]] += pool_c[rows]
    keep = ~join
    rr = np.concatenate([rr, np.where(keep, pool_r, 0.0)[:, None]], axis=1)
    cc = np.concatenate([cc, np.where(keep, pool_c, 0.0)[:, None]], axis=1)
    p_r, p_c = rr / n_r[:, None], cc / n_c[:, None]
    den = p_r / n_c[:, None] + p_c / n_r[:, None]
    stat = np.divide((p_r - p_c) ** 2, den, out=np.zeros_like(den), where=den > 0).sum(axis=1)
    df = ((rr + cc) > 0).sum(axis=1).astype(np.float64) - 1.0
    p: FloatArray = np.where(df > 0, special.chdtrc(np.maximum(df, 1.0), stat), 1.0)
    return p, df


# ------------------------------------------------------------------------------------------
# minimum detectable effect
# ------------------------------------------------------------------------------------------

ORDERED_TESTS: Final = 3  # KS, rank, outside: Bonferroni factor of the numeric p-value
CATEGORY_TESTS: Final = 2  # pooled chi-square, unseen categories


def _chi2_isf(alpha: float, df: FloatArray) -> FloatArray:
    x: FloatArray = special.chdtri(np.maximum(df, 1.0), alpha)
    return x


def min_detectable_effect(
    method: str, n_ref: FloatArray, n_cur: FloatArray, df: FloatArray, alpha: float
) -> FloatArray:
    """Return, per row, the effect at which the method's test just reaches ``alpha``.

    The effect whose expected statistic equals the critical value (about 50 % power), in the
    method's own unit: for ``wasserstein`` the normal location shift in std units (= W1 / std)
    that the better of the KS and rank tests detects at ``alpha / 3``; for ``ks`` the D; for
    the chi-square family the balanced Cramér's V, PSI, KL, JS or Hellinger distance whose
    chi-square equivalent reaches ``alpha`` (``alpha / 2`` for ``chi_square`` and ``g_test``)
    at ``df`` degrees of freedom. ``inf`` when nothing can reach it (no degree of freedom).
    """
    n_eff = n_ref * n_cur / np.maximum(n_ref + n_cur, 1.0)
    sn = np.sqrt(np.maximum(n_eff, 1e-12))
    if method in ("wasserstein", "ks"):
        a = alpha / ORDERED_TESTS if method == "wasserstein" else alpha
        d_crit = np.minimum(special.kolmogi(a) / (sn + 0.12 + 0.11 / sn), 1.0)
        if method == "ks":
            out_ks: FloatArray = d_crit
            return out_ks
        shift_ks = 2.0 * special.ndtri(np.minimum((1.0 + d_crit) / 2.0, 1.0))
        z = special.ndtri(1.0 - a / 2.0)
        n = n_ref + n_cur
        auc_dev = z * np.sqrt((n + 1.0) / (12.0 * np.maximum(n_ref * n_cur, 1.0)))
        shift_rank = math.sqrt(2.0) * special.ndtri(np.minimum(0.5 + auc_dev, 1.0))
        out_w: FloatArray = np.minimum(shift_ks, shift_rank)
        return out_w
    a = alpha / CATEGORY_TESTS if method in ("chi_square", "g_test") else alpha
    crit = np.where(df > 0, _chi2_isf(a, df), np.inf)
    ne = np.maximum(n_eff, 1e-12)
    if method in ("chi_square", "g_test"):
        v: FloatArray = np.minimum(np.sqrt(crit / (4.0 * ne)), 1.0)
    elif method == "psi":
        v = crit / ne
    elif method == "kl_divergence":
        v = crit / (2.0 * ne)
    elif method == "jensen_shannon":
        v = np.minimum(np.sqrt(crit / (8.0 * ne) / math.log(2.0)), 1.0)
    else:  # hellinger
        v = np.minimum(np.sqrt(crit / (8.0 * ne)), 1.0)
    out: FloatArray = np.where(df > 0, v, np.inf)
    return out
