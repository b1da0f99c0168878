"""The drift decision measured: false alarms, warnings and detection, old rule vs new, by size.

Run: ``python benchmarks/bench_drift_decision.py`` (about 5 minutes on one core) or with
``--effects`` for the effect-size accuracy table only, ``--quick`` for 50 trials per cell.
Prints figures only, never asserts.

Each cell draws ``TRIALS`` seeded windows of ``n`` rows (fewer at the largest n; the header
says how many), against ``GROUPS`` baselines of ``n`` (1x) or ``10 n`` (10x) reference rows
built with :class:`~otelml.stats.BaselineBuilder` (a fresh baseline per ``TRIALS / GROUPS``
windows), and decides the one feature alone (a BH family of one). ``new`` is
:func:`otelml.stats.compare.compare_many` + :func:`otelml.stats.decision.decide` with their
defaults. ``old`` is the previous rule on the
previous numbers: decile edges, midpoint representatives, the binned KS / asymptotic
chi-square p-value, ``min_samples = 100``, drift at BH p < 0.05 and W1 >= 0.2 std (V >= 0.1).
Cells read ``old / new`` share of trials flagged ``"drift"``; the null rows also give the
``"warning"`` share.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
from scipy import stats

from otelml.stats import drift
from otelml.stats.baseline import FeatureBaseline
from otelml.stats.baseline_builder import BaselineBuilder
from otelml.stats.categorical import CategoryCounts
from otelml.stats.compare import compare_many
from otelml.stats.decision import DriftPolicy, decide
from otelml.stats.histogram import FixedHistogram

QUICK = "--quick" in sys.argv
TRIALS = 50 if QUICK else 200
SIZES = (20, 50, 100, 1_000, 2_000, 10_000, 100_000)
BIG = 100_000  # trials are cut to TRIALS_BIG at this size (sampling cost)
TRIALS_BIG = 50
# Windows are compared with GROUPS independently drawn baselines (trials / GROUPS each): the
# guarantees are over the draw of the baseline too, and one unlucky small baseline would
# otherwise decide a whole cell.
GROUPS, GROUPS_BIG = 20, 5
OLD_POLICY = DriftPolicy(
    fdr_alpha=0.05,
    drift_alpha=0.05,
    min_samples=100,
    min_reference=100,
    thresholds={"wasserstein": (0.1, 0.2), "chi_square": (0.05, 0.1), "g_test": (0.05, 0.1)},
)
Sampler = Callable[[np.random.Generator, int], np.ndarray]


def _bimodal(g: np.random.Generator, n: int) -> np.ndarray:
    return np.where(g.uniform(size=n) < 0.5, g.normal(-2, 1, n), g.normal(2, 1, n))


SHAPES: dict[str, Sampler] = {
    "normal": lambda g, n: g.normal(0, 1, n),
    "heavy t3": lambda g, n: g.standard_t(3, n),
    "skewed lognormal": lambda g, n: g.lognormal(0, 1, n),
    "bimodal": _bimodal,
    "low-card 0..4": lambda g, n: g.choice(5, n, p=[0.4, 0.3, 0.15, 0.1, 0.05]).astype(float),
    "counts poisson(3)": lambda g, n: g.poisson(3.0, n).astype(float),
}


def _drifts(
    sigma: float, top: float
) -> dict[str, Callable[[np.random.Generator, np.ndarray], np.ndarray]]:
    def mix(share: float, by: float) -> Callable[[np.random.Generator, np.ndarray], np.ndarray]:
        return lambda g, x: np.where(g.uniform(size=x.size) < share, x + by * sigma, x)

    return {
        "null": lambda g, x: x,
        "shift 0.15 std": lambda g, x: x + 0.15 * sigma,
        "shift 1 std": lambda g, x: x + sigma,
        "scale x1.5": lambda g, x: np.median(x) + 1.5 * (x - np.median(x)),
        "mix 10% +2 std": mix(0.10, 2.0),
        "mix 30% +0.5 std": mix(0.30, 0.5),
        # exactly 30 % of the window's rows (rounded up) beyond the baseline's maximum
        "30% beyond max": lambda g, x: np.where(
            np.arange(x.size) < np.ceil(0.3 * x.size),
            top + sigma * (0.1 + g.uniform(size=x.size)),
            x,
        ),
    }


def _old_results(fb_old: FeatureBaseline, hists: list[FixedHistogram]) -> list[drift.DriftResult]:
    m = len(hists)
    ref = np.tile(np.asarray(fb_old.ref_counts, float), (m, 1))
    cur = np.array([h.counts for h in hists], dtype=float)
    reps = drift.representative_values(fb_old.edges, ref_min=fb_old.min, ref_max=fb_old.max)
    res = drift.batch_drift(
        "wasserstein", ref, cur, reps=np.tile(reps, (m, 1)), scale=np.full(m, fb_old.std or 1.0)
    )
    # The old p-value was the binned KS alone.
    return [_with_p(r, r.details["p_value_ks"]) for r in res]


def _with_p(r: drift.DriftResult, p: float) -> drift.DriftResult:
    from dataclasses import replace

    return replace(r, p_value=p, min_detectable_effect=0.0, details={})


def _rates(results: list[drift.DriftResult], policy: DriftPolicy | None) -> tuple[float, float]:
    drifted = warned = 0
    for r in results:
        st = decide({"f": r}, policy)["f"].status
        drifted += st == "drift"
        warned += st == "warning"
    return drifted / len(results), warned / len(results)


def _baseline(x: np.ndarray, spacing: str) -> FeatureBaseline:
    b = BaselineBuilder(spacing=spacing)
    b.update({"f": x})
    return b.freeze(model="m", version="1", created_at="-").features["f"]


def numeric_tables(ratio: int) -> None:
    print(f"\n## numeric, baseline {ratio}x the window: share 'drift' old / new")
    print(f"({TRIALS} trials per cell, {TRIALS_BIG} at n = {BIG:,}; null rows: warning old / new)")
    for si, (shape, sample) in enumerate(SHAPES.items()):
        g = np.random.default_rng(1000 + si)
        big = sample(g, 200_000)
        sigma, _top = float(big.std()), float(big.max())
        print(f"\n{shape:<22}" + "".join(f"{n:>14,}" for n in SIZES))
        lines: dict[str, list[str]] = {}
        warn_line: list[str] = []
        for n in SIZES:
            trials = TRIALS_BIG if n >= BIG else TRIALS
            groups = GROUPS_BIG if n >= BIG else GROUPS
            new: dict[str, list[drift.DriftResult]] = {}
            old: dict[str, list[drift.DriftResult]] = {}
            for _ in range(groups):
                x = sample(g, n * ratio)
                fb_new, fb_old = _baseline(x, "cosine"), _baseline(x, "uniform")
                fb_old = FeatureBaseline.from_dict({**fb_old.to_dict(), "bin_means": []})
                for name, plant in _drifts(sigma, float(x.max())).items():
                    pairs = {}
                    old_h = []
                    for t in range(trials // groups):
                        y = plant(g, sample(g, n))
                        h = fb_new.new_sketch()
                        h.update_many(y)
                        pairs[str(t)] = (fb_new, h)
                        ho = FixedHistogram(fb_old.edges)
                        ho.update_many(y)
                        old_h.append(ho)
                    new.setdefault(name, []).extend(compare_many(pairs).values())
                    old.setdefault(name, []).extend(_old_results(fb_old, old_h))
            for name in new:
                d_new, w_new = _rates(new[name], None)
                d_old, w_old = _rates(old[name], OLD_POLICY)
                lines.setdefault(name, []).append(f"{d_old:.3f}/{d_new:.3f}")
                if name == "null":
                    warn_line.append(f"{w_old:.3f}/{w_new:.3f}")
        for name, cells in lines.items():
            print(f"  {name:<20}" + "".join(f"{c:>14}" for c in cells))
        print(f"  {'(null warning)':<20}" + "".join(f"{c:>14}" for c in warn_line))


def _zipf(k: int) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** 1.1
    return w / w.sum()


def categorical_tables(ratio: int) -> None:
    print(f"\n## categorical (Zipf), baseline {ratio}x the window: share 'drift' old / new")
    for k in (3, 20, 500):
        g = np.random.default_rng(k)
        p = _zipf(k)
        moved = p.copy()
        take = min(0.10, moved[0] - 1e-9)
        moved[0] -= take
        moved[1] += take
        print(f"\n{k} categories{'':<12}" + "".join(f"{n:>14,}" for n in SIZES))
        names = [f"c{i}" for i in range(k)]
        cells: dict[str, list[str]] = {}
        warn_line: list[str] = []
        for n in SIZES:
            trials = TRIALS_BIG if n >= BIG else TRIALS
            groups = GROUPS_BIG if n >= BIG else GROUPS
            res: dict[str, list[drift.DriftResult]] = {}
            for _ in range(groups):
                ref = g.multinomial(n * ratio, p)
                fb = FeatureBaseline(
                    name="f",
                    kind="categorical",
                    categories={c: int(v) for c, v in zip(names, ref, strict=True) if v},
                    count=n * ratio,
                )
                for case in ("null", "10-point move", "30% unseen"):
                    pairs = {}
                    for t in range(trials // groups):
                        cc = CategoryCounts(cap=k + 10)
                        # exactly 30 % of the rows (rounded up) in a category never seen
                        new_vals = int(np.ceil(0.3 * n)) if case == "30% unseen" else 0
                        cur = g.multinomial(n - new_vals, moved if case == "10-point move" else p)
                        counts = {c: int(v) for c, v in zip(names, cur, strict=True) if v}
                        if new_vals:
                            counts["unseen"] = new_vals
                        cc.update_counts(counts)
                        pairs[str(t)] = (fb, cc)
                    res.setdefault(case, []).extend(compare_many(pairs).values())
            for case, new in res.items():
                old = [_with_p(r, r.details.get("p_value_asymptotic", 1.0)) for r in new]
                d_new, w_new = _rates(new, None)
                d_old, w_old = _rates(old, OLD_POLICY)
                cells.setdefault(case, []).append(f"{d_old:.3f}/{d_new:.3f}")
                if case == "null":
                    warn_line.append(f"{w_old:.3f}/{w_new:.3f}")
        for case, row in cells.items():
            print(f"  {case:<20}" + "".join(f"{c:>14}" for c in row))
        print(f"  {'(null warning)':<20}" + "".join(f"{c:>14}" for c in warn_line))


def effect_table() -> None:
    print("\n## effect size: binned W1 / std vs raw scipy.stats.wasserstein_distance / ref std")
    print("(reference and window of n rows each; new = compare() on a BaselineBuilder baseline;")
    print(" old = decile edges and midpoint representatives; '!' = off by > 10 % and > 0.01)")
    g = np.random.default_rng(7)
    shapes: dict[str, Sampler] = {
        "normal": SHAPES["normal"],
        "lognormal": SHAPES["skewed lognormal"],
        "uniform": lambda g, n: g.uniform(0, 1, n),
        "bimodal": _bimodal,
        "poisson(3)": SHAPES["counts poisson(3)"],
    }
    sizes = (1_000, 10_000, 100_000, 1_000_000)
    print(f"{'case':<28}" + "".join(f"{n:>26,}" for n in sizes))
    print(f"{'':<28}" + "".join(f"{'raw  old  new':>26}" for _ in sizes))
    for shape, sample in shapes.items():
        for label, plant in (
            ("shift 0.5 std", lambda x, s: x + 0.5 * s),
            ("scale x1.2", lambda x, s: np.median(x) + 1.2 * (x - np.median(x))),
        ):
            row = []
            for n in sizes:
                x, y0 = sample(g, n), sample(g, n)
                y = plant(y0, float(x.std()))
                if shape == "poisson(3)":
                    # Counts must stay counts: +10 % mean, or twice the variance (negative
                    # binomial of the same mean 3).
                    y = (
                        g.poisson(3.0 * 1.1, n)
                        if label.startswith("shift")
                        else g.negative_binomial(3, 0.5, n)
                    ).astype(float)
                raw = stats.wasserstein_distance(x, y) / x.std()
                fb = _baseline(x, "cosine")
                h = fb.new_sketch()
                h.update_many(y)
                new = compare_many({"f": (fb, h)})["f"].effect_size
                fo = _baseline(x, "uniform")
                fo = FeatureBaseline.from_dict({**fo.to_dict(), "bin_means": []})
                ho = FixedHistogram(fo.edges)
                ho.update_many(y)
                old = drift.wasserstein_binned(
                    fo.ref_counts,
                    ho.counts,
                    fo.edges,
                    ref_std=fo.std,
                    ref_min=fo.min,
                    ref_max=fo.max,
                ).effect_size

                def mark(v: float, raw: float = raw) -> str:
                    return "!" if abs(v - raw) > max(0.1 * raw, 0.01) else " "

                row.append(f"{raw:.3f} {old:.3f}{mark(old)} {new:.3f}{mark(new)}")
            name = label
            if shape == "poisson(3)":
                name = "+10%" if label.startswith("shift") else "var x2"
            print(f"{shape + ' ' + name:<28}" + "".join(f"{c:>26}" for c in row))


def main() -> None:
    effect_table()
    if "--effects" in sys.argv:
        return
    for ratio in (10, 1):
        numeric_tables(ratio)
        categorical_tables(ratio)


if __name__ == "__main__":
    main()
