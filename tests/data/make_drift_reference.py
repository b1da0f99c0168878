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
    }
    path = Path(__file__).with_name("drift_reference.json")
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
