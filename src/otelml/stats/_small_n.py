"""Tests on binned data that stay valid at small samples, and the minimum detectable effect.

The asymptotic chi-square laws behind the categorical p-values break down when expected counts
are small (a 500-category feature seen 20 times is all small cells, and a single value in a
cell the reference rarely uses gives chi-square in the hundreds), and the binned KS test alone
is blind to a few values far outside the reference's range. These row kernels (``(m, k)``
count arrays, one row per feature, rows with positive totals) add what the decision needs:

- :func:`rank_p`: the Wilcoxon-Mann-Whitney test on the bins as tied groups (mid-ranks, tie
  correction), the efficient test of a location shift;
- :func:`outside_p`: the exact conditional (hypergeometric) test of "more current values in
  the two outer bins than exchangeability allows", which catches values beyond the
  reference's min / max whatever the sample size;
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
"""Significance level of ``"drift"`` (BH-adjusted), and of the reported minimum detectable effect."""
MIN_EXPECTED: Final = 5.0
"""Cells expecting fewer values than this in the smaller sample are pooled (Cochran's rule)."""
MAX_OUTSIDE_REF: Final = 32
"""Outer bins holding more reference values than this are ordinary bins, not "outside"."""


def _log_comb(a: FloatArray, b: FloatArray) -> FloatArray:
    out: FloatArray = special.gammaln(a + 1) - special.gammaln(b + 1) - special.gammaln(a - b + 1)
    return out


def _hypergeom_upper(c: FloatArray, r: FloatArray, n_r: FloatArray, n_c: FloatArray) -> FloatArray:
    """Return ``P(X >= c)`` for ``X ~ Hypergeom(N = n_r + n_c, K = r + c, draws n_c)``.

    ``X <= K = r + c``, so the sum has ``r + 1`` terms; ``r`` is capped (by the callers'
    choice of cells) at :data:`MAX_OUTSIDE_REF`, which keeps this a fixed-width array sum.
    """
    n = n_r + n_c
    k = r + c
    terms = np.arange(MAX_OUTSIDE_REF + 1, dtype=np.float64)[None, :]
    x = c[:, None] + terms
    valid = (terms <= r[:, None]) & (x <= n_c[:, None])
    xs = np.where(valid, x, 0.0)
    kk = k[:, None]
    log_pmf = (
        _log_comb(kk, np.minimum(xs, kk))
        + _log_comb((n - k)[:, None], np.clip(n_c[:, None] - xs, 0.0, (n - k)[:, None]))
        - _log_comb(n, n_c)[:, None]
    )
    p: FloatArray = np.where(valid, np.exp(log_pmf), 0.0).sum(axis=1)
    p = np.where(c > 0, np.clip(p, 0.0, 1.0), 1.0)
    return p


def outside_p(r: FloatArray, c: FloatArray) -> FloatArray:
    """Return the exact p-value of "the current puts more mass in the two outer bins".

    The outer bins ``(-inf, e_0]`` and ``(e_{k-1}, +inf)`` of a baseline whose edges include
    its min and max hold only the reference's minimum (and its ties) and nothing at all
    above its maximum. Under "same distribution" the pooled values are exchangeable, so the
    number of current values among the ``K`` pooled values in those bins is hypergeometric
    (Fisher's exact test, one-sided). Rows whose outer bins hold more than
    :data:`MAX_OUTSIDE_REF` reference values (a discrete feature whose minimum is common) get
    p = 1: there the outer bins are ordinary bins, left to the other tests.
    """
    n_r, n_c = r.sum(axis=1), c.sum(axis=1)
    r_out = r[:, 0] + r[:, -1]
    c_out = c[:, 0] + c[:, -1]
    small = r_out <= MAX_OUTSIDE_REF
    p = _hypergeom_upper(c_out, np.where(small, r_out, 0.0), n_r, n_c)
    out: FloatArray = np.where(small, p, 1.0)
    return out


def unseen_p(r: FloatArray, c: FloatArray) -> FloatArray:
    """Return the exact p-value of the current's mass in cells the reference never saw.

    Same hypergeometric argument as :func:`outside_p` with ``K`` = the current's count in
    reference-empty cells: ``P = C(n_cur, K) / C(N, K)``.
    """
    n_r, n_c = r.sum(axis=1), c.sum(axis=1)
    c_new = np.where(r == 0, c, 0.0).sum(axis=1)
    return _hypergeom_upper(c_new, np.zeros_like(c_new), n_r, n_c)


def rank_p(r: FloatArray, c: FloatArray) -> FloatArray:
    """Return the two-sided Wilcoxon-Mann-Whitney p-value with the bins as tied groups.

    Mid-ranks and the tie-corrected variance, normal law with continuity correction: equal
    to ``scipy.stats.mannwhitneyu(..., method="asymptotic")`` on data with one distinct value
    per bin.
    """
    n_r, n_c = r.sum(axis=1), c.sum(axis=1)
    n = n_r + n_c
    t = r + c
    before = np.cumsum(t, axis=1) - t
    midrank = before + (t + 1.0) / 2.0
    u = (c * midrank).sum(axis=1) - n_c * (n_c + 1.0) / 2.0
    mu = n_r * n_c / 2.0
    tie = (t**3 - t).sum(axis=1) / np.maximum(n * (n - 1.0), 1.0)
    var = n_r * n_c / 12.0 * np.maximum(n + 1.0 - tie, 0.0)
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
