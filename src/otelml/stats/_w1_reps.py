"""Where each bin's mass sits, per side, for a binned Wasserstein distance that means what it says.

W1 between two distributions counted on the same bins depends on where inside each bin the
mass lies. Midpoints are biased: the outer bins of a quantile baseline reach the sample's
extremes, which move out as the sample grows, so a 0.5-std shift read 0.62 / 0.66 / 0.69 std
at 10k / 100k / 1M rows. Instead each side gets its own representative per bin:

- the reference's mean within each bin (``FeatureBaseline.bin_means``, exact), or, for an
  older baseline without them, the edge midpoints corrected as below with the reference's
  own mean, min and max;
- for the current window, which arrives as an OTel explicit-bucket histogram (per-bucket
  counts, total sum, min and max; no per-bucket sums), the reference's bin means, the open
  bins at the middle of ``[window min, e_0]`` and ``(e_last, window max]``, then corrected so
  that the representatives reproduce the window's own sum: the residual
  ``sum - Σ count_i rep_i`` is shared among the bins in proportion to ``count_i x room_i``,
  where ``room_i`` is how far the representative can move inside its bin (towards the
  window's min / max for the open bins). Wide, well-filled bins -- the tails, where a shift
  moves mass the counts cannot see -- take most of it; no representative leaves its bin.

:func:`two_point_w1` then computes W1 exactly between the two discrete distributions (two
points per bin). Accuracy against ``scipy.stats.wasserstein_distance`` on the raw data is
tabulated in ``docs/drift.md`` (``benchmarks/bench_drift_decision.py --effects``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def corrected_means(
    prior: FloatArray, counts: FloatArray, total: FloatArray, lo: FloatArray, hi: FloatArray
) -> FloatArray:
    """Return representatives moved from ``prior`` so that ``Σ counts x rep`` equals ``total``.

    All arrays are ``(m, k)`` except ``total`` (``(m,)``; NaN: no correction). Each bin's
    representative stays within ``[lo, hi]``; the residual is shared in proportion to
    ``counts x room`` (see the module docstring). When the bins cannot absorb the residual
    (the sum is inconsistent with the counts and bounds) they move as far as they can.
    """
    residual = total - (counts * prior).sum(axis=1)
    residual = np.where(np.isfinite(residual), residual, 0.0)
    up = residual > 0
    room = np.where(up[:, None], hi - prior, prior - lo)
    room = np.maximum(room, 0.0)
    weight = counts * room
    wsum = weight.sum(axis=1)
    factor = np.divide(np.abs(residual), wsum, out=np.zeros_like(wsum), where=wsum > 0)
    shift = np.minimum(room * factor[:, None], room)
    out: FloatArray = prior + np.where(up[:, None], shift, -shift)
    return out


def two_point_w1(r: FloatArray, c: FloatArray, mu: FloatArray, nu: FloatArray) -> FloatArray:
    """Return W1 between ``r`` at points ``mu`` and ``c`` at points ``nu``, row by row.

    ``r``, ``c``: ``(m, k)`` counts with positive row sums; ``mu``, ``nu``: representatives
    of each bin (both inside bin ``i``, so the points of bin ``i`` precede those of bin
    ``i + 1``). Between bins both CDFs sit at their value at the edge; inside bin ``i``, between
    its two points, one side has already taken its mass and the other not.
    """
    p = r / r.sum(axis=1, keepdims=True)
    q = c / c.sum(axis=1, keepdims=True)
    zero = np.zeros((r.shape[0], 1))
    f_r = np.concatenate([zero, np.cumsum(p, axis=1)], axis=1)
    f_c = np.concatenate([zero, np.cumsum(q, axis=1)], axis=1)
    a, b = np.minimum(mu, nu), np.maximum(mu, nu)
    between = np.abs(f_r[:, 1:-1] - f_c[:, 1:-1]) * np.maximum(a[:, 1:] - b[:, :-1], 0.0)
    ref_first = mu <= nu
    fr_mid = np.where(ref_first, f_r[:, 1:], f_r[:, :-1])
    fc_mid = np.where(ref_first, f_c[:, :-1], f_c[:, 1:])
    within = np.abs(fr_mid - fc_mid) * (b - a)
    out: FloatArray = between.sum(axis=1) + within.sum(axis=1)
    return out


def side_bounds(
    edges: list[float], side_min: float, side_max: float, fallback: FloatArray
) -> tuple[list[float], list[float]]:
    """Return per-bin ``(lo, hi)`` bounds of one side's values (``len(edges) + 1`` bins).

    Inner bins are bounded by their edges; the open bins by the side's own min / max when
    known and beyond the edge, else they are pinned at ``fallback`` (no room to move).
    """
    k = len(edges)
    if k == 0:
        return [float(fallback[0])], [float(fallback[0])]
    lo = [float(fallback[0]), *edges]
    hi = [*edges, float(fallback[k])]
    if side_min == side_min and side_min < edges[0]:  # not NaN
        lo[0] = side_min
    else:
        lo[0] = min(lo[0], edges[0])
    if side_max == side_max and side_max > edges[-1]:
        hi[k] = side_max
    else:
        hi[k] = max(hi[k], edges[-1])
    return lo, hi
