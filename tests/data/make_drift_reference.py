"""Write drift_reference.json: scipy's answers for the drift statistics on fixed inputs.

Run from the repository root: ``python tests/data/make_drift_reference.py``. The JSON records
the numpy and scipy versions that produced it; tests/stats/test_drift.py compares otelml's
values with these and also recomputes them live with the installed scipy.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import scipy
from scipy import stats
from scipy.spatial.distance import jensenshannon

PSEUDO = 0.5


def _smoothed(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    used = (r + c) > 0
    rs, cs = r[used] + PSEUDO, c[used] + PSEUDO
    return rs / rs.sum(), cs / cs.sum()


def reference_case(name: str, ref: list[float], cur: list[float]) -> dict[str, object]:
    r, c = np.asarray(ref, float), np.asarray(cur, float)
    keep = (r + c) > 0
    table = np.vstack([r[keep], c[keep]])
    chi2, chi_p, dof, _ = stats.chi2_contingency(table, correction=False)
    g, g_p, _, _ = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    ps, qs = _smoothed(r, c)
    edges = np.arange(1.0, len(ref))  # k - 1 unit-spaced edges
    reps = np.concatenate([[edges[0] - 0.5], 0.5 * (edges[:-1] + edges[1:]), [edges[-1] + 0.5]])
    return {
        "name": name,
        "ref": ref,
        "cur": cur,
        "edges": edges.tolist(),
        "representatives": reps.tolist(),
        "jensen_shannon": float(jensenshannon(r, c, base=2)),
        "chi_square": [float(chi2), float(chi_p), int(dof)],
        "g_test": [float(g), float(g_p)],
        "kl_divergence_smoothed": float(stats.entropy(ps, qs)),
        "psi_smoothed": float(np.sum((qs - ps) * np.log(qs / ps))),
        "wasserstein_raw": float(stats.wasserstein_distance(reps, reps, r, c)),
    }


def ks_case(seed: int, n_ref: int, n_cur: int, shift: float) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n_ref)
    y = rng.normal(shift, size=n_cur)
    edges = np.quantile(x, np.linspace(0, 1, 11)[1:-1])
    res = stats.ks_2samp(x, y, method="asymp")
    return {
        "seed": seed,
        "shift": shift,
        "edges": edges.tolist(),
        "ref": np.bincount(np.searchsorted(edges, x), minlength=10).tolist(),
        "cur": np.bincount(np.searchsorted(edges, y), minlength=10).tolist(),
        "raw_statistic": float(res.statistic),
        "raw_pvalue": float(res.pvalue),
    }


def small_n_case(name: str, ref: list[float], cur: list[float]) -> dict[str, object]:
    """scipy's answers for the small-sample tests of otelml.stats._small_n on one table."""
    r, c = np.asarray(ref, float), np.asarray(cur, float)
    x = np.repeat(np.arange(r.size), r.astype(int))  # one distinct value per bin
    y = np.repeat(np.arange(c.size), c.astype(int))
    n_r, n_c = int(r.sum()), int(c.sum())
    tot = r + c

    def all_current(j: int) -> float:
        # P(j given pooled values all fall in the current sample) = hypergeom pmf(j; N, n_c, j)
        return float(stats.hypergeom.pmf(j, n_r + n_c, n_c, j)) if j else 1.0

    p_hi = all_current(int(c[-1])) if r[-1] == 0 else 1.0
    p_lo = all_current(int(c[0])) if r[0] <= 1 else 1.0
    unseen = [all_current(int(c[j])) for j in range(r.size) if r[j] == 0 and c[j] > 0]
    k_used = int((tot > 0).sum())
    # Pooling as documented: cells expecting < 5 values in the smaller sample are summed; a
    # pool that still expects < 5 joins the smallest large cell.
    t = r + c
    scale = min(n_r, n_c) / (n_r + n_c)
    small = (t * scale < 5) & (t > 0)
    big = (t > 0) & ~small
    rr, cc = np.where(small, 0, r), np.where(small, 0, c)
    pr, pc = r[small].sum(), c[small].sum()
    if (pr + pc) * scale < 5 and big.any():
        j = int(np.argmin(np.where(big, t, np.inf)))
        rr[j] += pr
        cc[j] += pc
    else:
        rr, cc = np.append(rr, pr), np.append(cc, pc)
    keep = (rr + cc) > 0
    pooled = np.vstack([rr[keep], cc[keep]])
    pooled_p = float(stats.chi2_contingency(pooled, correction=False)[1]) if keep.sum() > 1 else 1.0
    return {
        "name": name,
        "ref": ref,
        "cur": cur,
        # scipy's U (mid-ranks) with the untied variance, as otelml uses (see rank_p)
        "mannwhitneyu_untied": float(
            2
            * stats.norm.sf(
                max(abs(stats.mannwhitneyu(y, x).statistic - n_r * n_c / 2) - 0.5, 0.0)
                / np.sqrt(n_r * n_c * (n_r + n_c + 1) / 12)
            )
        ),
        "outside": min(1.0, 2 * min(p_lo, p_hi)),
        "unseen": min(1.0, k_used * min(unseen, default=1.0)),
        "pooled_chi2": pooled_p,
    }


def main() -> None:
    cases = [
        reference_case("equal", [10, 20, 30, 40], [10, 20, 30, 40]),
        reference_case("shifted", [50, 30, 15, 5], [5, 15, 30, 50]),
        reference_case("empty_bins", [12, 0, 7, 0, 30, 1], [3, 0, 0, 9, 25, 8]),
        reference_case("large", [4e11, 3e11, 2e11, 1e11], [3.9e11, 3.1e11, 2e11, 1e11]),
        reference_case("many", list(range(1, 21)), list(range(20, 0, -1))),
    ]
    out = {
        "generator": "tests/data/make_drift_reference.py",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "pseudo_count": PSEUDO,
        "cases": cases,
        "ks": [ks_case(s, 5000, 3000, sh) for s, sh in ((1, 0.0), (2, 0.1), (3, 0.5))],
        "small_n": [
            small_n_case("outside", [1, 40, 40, 40, 0], [3, 5, 6, 2, 4]),
            small_n_case("null_like", [1, 50, 50, 49, 0], [0, 7, 6, 7, 0]),
            small_n_case("sparse", [300, 40, 9, 3, 2, 1, 0], [5, 3, 2, 4, 0, 2, 4]),
            small_n_case("shifted", [1, 30, 30, 30, 30, 0], [0, 2, 5, 9, 13, 1]),
        ],
    }
    path = Path(__file__).with_name("drift_reference.json")
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
