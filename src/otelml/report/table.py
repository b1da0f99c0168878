"""The drift table of a dataset against its baseline: one row per column, most drifted first.

Shared by ``otelml drift`` (text and JSON) and the offline HTML report, so that the CI gate and
the report can never disagree. Drift comes from :func:`otelml.stats.compare.compare_many` and
:func:`otelml.stats.decision.decide` (Benjamini-Hochberg across columns); data-quality notes
from :func:`otelml.stats.quality.quality_report`, the same rule the processor applies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from otelml.baselines import CurrentProfile
    from otelml.stats.baseline import Baseline, FeatureBaseline
    from otelml.stats.drift import DriftResult

_SEVERITY = {"drift": 0, "warning": 1, "insufficient_data": 2, "ok": 3}
_ISSUE_NAMES = {
    "missing": "missing",
    "nan": "nan",
    "inf": "inf",
    "type_mismatch": "wrong type",
    "out_of_range": "outside the baseline range",
    "new_category": "new categories",
}


def _notes(fb: FeatureBaseline, sketch: Any, missing: int) -> list[str]:
    """Return a note per data-quality issue that the quality rule flags for one column."""
    from otelml.stats.quality import quality_report

    notes = []
    for name, issue in quality_report(fb, sketch, missing=missing).issues.items():
        if issue.status not in ("warning", "alert"):
            continue
        text = f"{_ISSUE_NAMES.get(name, name)} {100 * issue.current_rate:.1f}%"
        if name == "new_category":
            new = sorted(set(sketch.counts) - set(fb.categories))
            text += " (" + ", ".join(new[:3]) + (", ..." if len(new) > 3 else "") + ")"
        elif issue.baseline_rate:
            text += f" (baseline {100 * issue.baseline_rate:.1f}%)"
        notes.append(text)
    return notes


def drift_report(
    baseline: Baseline, profile: CurrentProfile, method: str | None = None
) -> list[dict[str, Any]]:
    """Return one dict per column (feature, kind, method, statistic, ..., status, notes), ranked.

    Ranked by status (drift first), then by :func:`otelml.stats.decision.rank_features`'s score
    (effect size over its method's drift threshold, times importance), then by name.
    """
    from otelml.stats.compare import compare_many
    from otelml.stats.decision import DriftPolicy, decide, rank_features

    columns: dict[str, FeatureBaseline] = dict(baseline.features)
    if baseline.prediction is not None:
        columns[baseline.prediction.name] = baseline.prediction
    pairs = {
        name: (columns[name], sketch)
        for name, sketch in profile.sketches.items()
        if name in columns
    }
    policy = DriftPolicy()
    results: dict[str, DriftResult] = compare_many(pairs, method=method)
    statuses = decide(results, policy)
    importances = {n: fb.importance for n, fb in columns.items() if fb.importance is not None}
    scores = dict(rank_features(results, importances, policy))
    rows: list[dict[str, Any]] = []
    for name, fb in columns.items():
        res = results.get(name)
        st = statuses.get(name)
        notes = (
            ["column absent from the data"]
            if name in profile.absent
            else _notes(fb, profile.sketches[name], profile.missing[name])
        )
        rows.append(
            {
                "feature": name,
                "role": "prediction" if fb is baseline.prediction else "feature",
                "kind": fb.kind,
                "method": None if res is None else res.method,
                "statistic": None if res is None else res.statistic,
                "p_value": None if res is None else res.p_value,
                "effect_size": None if res is None else res.effect_size,
                "importance": fb.importance,
                "status": "insufficient_data" if st is None else st.status,
                "notes": notes,
            }
        )
    rows.sort(
        key=lambda r: (
            _SEVERITY.get(str(r["status"]), 2),
            -scores.get(str(r["feature"]), 0.0),
            str(r["feature"]),
        )
    )
    return rows
