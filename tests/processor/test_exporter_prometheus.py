"""Prometheus exposition: format, histograms on baseline edges, bin shares, escaping, caps."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from otelml import semconv
from otelml.processor.export import prometheus as prom
from otelml.processor.state.aggregator import PREDICTION_FEATURE, FeatureWindow, SeriesKey, Update
from otelml.stats.exponential import ExponentialHistogram

from . import promtext
from .evaldata import (
    T0,
    close_registries,  # noqa: F401 - autouse fixture
    current_updates,
    make_aggregator,
    make_baseline,
    make_context,
)


@pytest.fixture(scope="module")
def baseline():  # type: ignore[no-untyped-def]
    return make_baseline()


def _scrape(ctx) -> dict[str, promtext.ParsedFamily]:  # type: ignore[no-untyped-def]
    return promtext.parse(prom.exposition(ctx))


def test_exposition_after_evaluation(baseline, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    agg = make_aggregator(current_updates(baseline, drifted=("f1",)))
    ctx = make_context(agg, tmp_path / "db")
    ctx.registry.put(baseline)
    ctx.evaluator.evaluate()
    fams = _scrape(ctx)
    for name, fam in fams.items():
        assert fam.type == prom.METRICS_BY_NAME[name].type
        assert fam.help
    status = {s[1]["feature"]: s[2] for s in fams["otelml_feature_drift_status"].samples}
    assert status == {"f0": 0, "f1": 2, "f2": 0, "f3": 0, "c0": 0}
    [model] = fams["otelml_model_status"].samples
    assert model[1] == {"model": "fraud", "version": "1.0.0", "environment": "production"}
    assert model[2] == 2
    [info] = fams["otelml_model_baseline_info"].samples
    assert info[1]["baseline_version"] == "1.0.0"
    assert info[1]["fallback"] == "false"
    [pred] = fams["otelml_predictions_total"].samples
    assert pred[2] == 30 * 400


def test_feature_values_histogram_on_baseline_edges(baseline, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ups = current_updates(baseline, minutes=3)
    agg = make_aggregator(ups)
    ctx = make_context(agg, tmp_path / "db")
    ctx.registry.put(baseline)
    series = promtext.histogram_series(_scrape(ctx)["otelml_feature_values"])
    for feature in ("f0", "f3", PREDICTION_FEATURE):
        key = (
            ("environment", "production"),
            ("feature", feature),
            ("model", "fraud"),
            ("segment", ""),
            ("version", "1.0.0"),
        )
        s = series[key]
        les = [le for le, _ in s["buckets"]]  # type: ignore[union-attr]
        fb = baseline.features.get(feature) or baseline.prediction
        assert les == [*fb.edges, math.inf]
        counts = [c for _, c in s["buckets"]]  # type: ignore[union-attr]
        assert counts == sorted(counts)  # cumulative
        assert counts[-1] == s["count"] == 3 * 400
    # f0 arrived on the baseline edges: the exposition holds exactly the totals' counts
    total = agg.totals()[SeriesKey("fraud", "1.0.0", "production", "f0")].numeric
    key = (
        ("environment", "production"),
        ("feature", "f0"),
        ("model", "fraud"),
        ("segment", ""),
        ("version", "1.0.0"),
    )
    got = [c for _, c in series[key]["buckets"]]  # type: ignore[union-attr]
    assert got == np.cumsum(total.counts).tolist()
    assert series[key]["sum"] == pytest.approx(total.sum)


def test_exponential_without_baseline_uses_default_edges(tmp_path: Path) -> None:
    h = ExponentialHistogram()
    x = np.array([-3.0, 0.0, 0.002, 0.5, 7.0, 7.0, 2e7])
    h.update_many(x)
    key = SeriesKey("m", "1", "production", "x")
    agg = make_aggregator([Update(key, int(T0) - 60, FeatureWindow(numeric=h, rows=x.size))])
    ctx = make_context(agg, tmp_path / "db")
    [s] = promtext.histogram_series(_scrape(ctx)["otelml_feature_values"]).values()
    assert [le for le, _ in s["buckets"]] == [*prom.DEFAULT_EDGES, math.inf]  # type: ignore[union-attr]
    want = np.cumsum(np.bincount(np.searchsorted(prom.DEFAULT_EDGES, x), minlength=22))
    assert [c for _, c in s["buckets"]] == want.tolist()  # type: ignore[union-attr]


def test_bin_share_current_and_baseline_on_same_bins(baseline, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    agg = make_aggregator(current_updates(baseline, drifted=("f1",)))
    ctx = make_context(agg, tmp_path / "db")
    ctx.registry.put(baseline)
    ctx.evaluator.evaluate()
    fam = _scrape(ctx)["otelml_feature_bin_share"]
    f1 = [
        (s[1]["source"], s[1]["bin"], s[1]["le"], s[2])
        for s in fam.samples
        if s[1]["feature"] == "f1"
    ]
    cur = {(b, le): v for src, b, le, v in f1 if src == "current"}
    ref = {(b, le): v for src, b, le, v in f1 if src == "baseline"}
    assert set(cur) == set(ref)
    assert len(cur) == len(baseline.features["f1"].edges) + 1
    assert sum(cur.values()) == pytest.approx(1.0)
    assert sum(ref.values()) == pytest.approx(1.0)
    c0 = {s[1]["bin"] for s in fam.samples if s[1]["feature"] == "c0"}
    assert c0 == {"a", "b", "c"}


def test_label_values_are_escaped(tmp_path: Path) -> None:
    nasty = 'we"ird\\name\nwith newline'
    key = SeriesKey(nasty, "1", "production", "f", "")
    agg = make_aggregator([Update(key, int(T0) - 60, FeatureWindow(missing=3, rows=3))])
    ctx = make_context(agg, tmp_path / "db")
    text = prom.exposition(ctx)
    assert '\\"' in text
    assert "\\\\" in text
    assert "\\n" in text
    fams = promtext.parse(text)
    [sample] = fams["otelml_feature_missing_total"].samples
    assert sample[1]["model"] == nasty
    assert sample[2] == 3


def test_series_cap_overflows_and_counts(tmp_path: Path) -> None:
    ups = [
        Update(
            SeriesKey("m", "1", "production", f"f{i}"),
            int(T0) - 60,
            FeatureWindow(missing=i + 1, rows=i + 1),
        )
        for i in range(10)
    ]
    agg = make_aggregator(ups)
    ctx = make_context(agg, tmp_path / "db", max_series=4)
    fams = _scrape(ctx)
    missing = fams["otelml_feature_missing_total"].samples
    assert len(missing) == 5  # 4 admitted + the overflow series
    over = [s for s in missing if s[1]["feature"] == semconv.OVERFLOW_VALUE]
    assert len(over) == 1
    assert sum(s[2] for s in missing) == sum(range(1, 11))  # counters keep their total
    overflow = {s[1]["limit"]: s[2] for s in fams["otelml_processor_overflow_total"].samples}
    # 6 features too many in three counter families (missing and 3 invalid issues) ...
    assert overflow["series"] >= 6
    # ... and scraping again does not count the same label sets again
    again = {s[1]["limit"]: s[2] for s in _scrape(ctx)["otelml_processor_overflow_total"].samples}
    assert again["series"] == overflow["series"]


def test_self_telemetry_rendered(tmp_path: Path) -> None:
    ctx = make_context(make_aggregator([]), tmp_path / "db")
    ctx.telemetry.received("metrics", 10)
    ctx.telemetry.accepted("metrics", 9)
    ctx.telemetry.rejected("metrics", "malformed", 1)
    ctx.telemetry.record_evaluation(0.02)
    ctx.telemetry.record_evaluation(2.0)
    fams = _scrape(ctx)
    assert fams["otelml_processor_received_total"].samples == [
        ("otelml_processor_received_total", {"signal": "metrics"}, 10.0)
    ]
    [(_, labels, v)] = fams["otelml_processor_rejected_total"].samples
    assert labels == {"signal": "metrics", "reason": "malformed"}
    assert v == 1
    [s] = promtext.histogram_series(fams["otelml_processor_evaluation_duration_seconds"]).values()
    assert s["count"] == 2
    assert s["sum"] == pytest.approx(2.02)
    buckets = dict(s["buckets"])  # type: ignore[arg-type]
    assert buckets[0.01] == 0
    assert buckets[0.05] == 1
    assert buckets[5.0] == 2
    assert buckets[math.inf] == 2


def test_format_value() -> None:
    assert prom.format_value(3.0) == "3"
    assert prom.format_value(0.25) == "0.25"
    assert prom.format_value(math.inf) == "+Inf"
    assert prom.format_value(-math.inf) == "-Inf"
    assert prom.format_value(math.nan) == "NaN"
    assert prom.format_value(1e20) == "1e+20"


def test_scrape_follows_new_evaluations(baseline, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    agg = make_aggregator(current_updates(baseline, minutes=5))
    ctx = make_context(agg, tmp_path / "db")
    ctx.evaluator.evaluate()  # no baseline, no previous window: nothing to compare with
    [info] = _scrape(ctx)["otelml_model_baseline_info"].samples
    assert info[1]["reference"] == "previous_window"
    assert _scrape(ctx)["otelml_model_baseline_info"].samples == [info]  # cached, same
    ctx.registry.put(baseline)
    ctx.evaluator.evaluate()
    [info] = _scrape(ctx)["otelml_model_baseline_info"].samples
    assert info[1]["reference"] == "baseline"
    assert info[1]["baseline_version"] == "1.0.0"
