"""The offline report and ``otelml report``: same verdicts as ``otelml drift``, charts to scale."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from otelml.baselines import build_baseline, profile_current, save_baseline
from otelml.cli import main
from otelml.examples_data import DRIFTED_FEATURES, STABLE_FEATURES, example_frames
from otelml.report import analyse, render_report, write_report
from otelml.report.table import drift_report

from ._html import Page

NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def frames():
    return example_frames(0)


@pytest.fixture(scope="module")
def baseline(frames):
    return build_baseline(frames[0], model="shop", version="7")


def test_table_has_the_drift_commands_rows_in_its_order(frames, baseline):
    page = Page(render_report(baseline, frames[1], title="nightly"))
    expected = drift_report(baseline, profile_current(frames[1], baseline))
    rows = page.tables["drift"]
    assert [r[0] for r in rows] == [r["feature"] for r in expected]
    assert [r[6] for r in rows] == [r["status"].replace("_", " ") for r in expected]
    status = {r[0]: r[6] for r in rows}
    assert all(status[f] == "drift" for f in DRIFTED_FEATURES)
    assert all(status[f] == "ok" for f in STABLE_FEATURES)
    assert [r[0] for r in page.tables["quality"]] == [r[0] for r in rows]
    assert page.tags.count("svg") == len(rows)
    assert "script" not in page.tags


def test_numeric_chart_shows_current_shares_on_the_baselines_bins(frames, baseline):
    report = analyse(baseline, frames[1])
    view = next(v for v in report.views if v.name == "income")
    root = ET.fromstring(view.chart)
    heights = np.array(
        [
            float(r.get("height", "nan"))
            for r in root.iter(f"{NS}rect")
            if "current" in r.get("class", "")
        ]
    )
    income = frames[1]["income"]
    edges = np.asarray(baseline.features["income"].edges)
    counts = np.bincount(np.searchsorted(edges, income, side="left"), minlength=edges.size + 1)
    # The bars share one vertical scale, so each height over their sum is the bin's share
    # (heights are written to 0.1 px).
    np.testing.assert_allclose(heights / heights.sum(), counts / counts.sum(), atol=2e-3)
    assert view.quality is not None
    assert view.quality.out_of_range == pytest.approx(
        counts[-1] / counts.sum() + counts[0] / counts.sum()
    )


def test_quality_shows_a_missing_spike_and_a_new_category(baseline, frames):
    cur = {k: np.array(v, copy=True) for k, v in frames[1].items()}
    cur["age"][: len(cur["age"]) // 4] = np.nan
    cur["device"] = cur["device"].astype(object)
    cur["device"][:100] = None
    report = analyse(baseline, cur)
    q = {v.name: v.quality for v in report.views}
    # pandas' missing marker: NaN counts as missing for every container (issue 17).
    assert q["age"].missing == pytest.approx(np.isnan(cur["age"]).mean())
    assert q["device"].missing == pytest.approx(np.mean([x is None for x in cur["device"]]))
    assert q["country"].new_categories == pytest.approx(np.mean(cur["country"] == "BR"), abs=1e-12)
    bad = Page(report.to_html()).tables["quality"]
    age = next(r for r in bad if r[0] == "age")
    assert age[2].startswith(f"{100 * np.isnan(cur['age']).mean():.1f}%")


def test_user_strings_are_escaped(tmp_path):
    evil_col = '<img src=x onerror="alert(1)">'
    evil_cat = "</td><script>alert(2)</script>"
    rng = np.random.default_rng(1)
    ref = {evil_col: rng.normal(size=500), "c": rng.choice(["a", "b"], 500).astype(object)}
    cur = {evil_col: rng.normal(1, 1, 300), "c": np.array(["a", evil_cat] * 150, dtype=object)}
    b = build_baseline(ref, model="<marquee>m</marquee>", version="1&2")
    html = render_report(b, cur, title="<h1>t</h1>")
    page = Page(html)
    assert "script" not in page.tags
    assert "img" not in page.tags
    assert "marquee" not in page.tags
    assert page.tags.count("h1") == 1
    assert [r[0] for r in page.tables["drift"]].count(evil_col) == 1
    # Each chart stays well-formed XML with the raw strings as text.
    charts = [ET.fromstring(v.chart) for v in analyse(b, cur).views]
    texts = ["".join(t.itertext()) for c in charts for t in c.iter(f"{NS}text")]
    assert any(evil_cat in t for t in texts)


def test_absent_column_is_reported_without_a_distribution(baseline, frames):
    cur = {k: v for k, v in frames[1].items() if k != "age"}
    views = {v.name: v for v in analyse(baseline, cur).views}
    assert views["age"].status == "insufficient_data"
    assert views["age"].quality is None
    assert "column absent from the data" in views["age"].notes
    assert "<svg" in views["age"].chart


def test_files_and_memory_give_the_same_report(tmp_path, frames, baseline):
    cur_path = tmp_path / "cur.parquet"
    pd.DataFrame(frames[1]).to_parquet(cur_path)
    b_path = save_baseline(baseline, tmp_path / "b.json")
    from_files = analyse(b_path, cur_path)
    in_memory = analyse(baseline, profile_current(frames[1], baseline))
    for a, b in zip(from_files.views, in_memory.views, strict=True):
        assert (a.name, a.status, a.statistic, a.p_value) == (
            b.name,
            b.status,
            b.statistic,
            b.p_value,
        )
    out = write_report(tmp_path / "r.html", b_path, cur_path, title="T")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_cli_baseline_reference_and_example(tmp_path, frames, baseline, capsys):
    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    pd.DataFrame(frames[0]).to_csv(ref, index=False)
    pd.DataFrame(frames[1]).to_csv(cur, index=False)
    b_path = save_baseline(baseline, tmp_path / "b.json")
    out1, out2, out3 = (tmp_path / f"r{i}.html" for i in range(3))
    assert main(["report", "--baseline", str(b_path), str(cur), "-o", str(out1)]) == 0
    assert main(["report", "--reference", str(ref), str(cur), "-o", str(out2)]) == 0
    assert main(["report", "--example", "-o", str(out3), "--fail-on-drift"]) == 1
    printed = capsys.readouterr().out
    assert printed.count("2 of 6 columns drifted (income, country)") == 3
    for out in (out1, out2, out3):
        rows = Page(out.read_text(encoding="utf-8")).tables["drift"]
        assert {r[0]: r[6] for r in rows}["income"] == "drift"


def test_cli_bad_input_exits_2(tmp_path, capsys):
    assert main(["report", "-o", str(tmp_path / "r.html")]) == 2
    assert "give --baseline" in capsys.readouterr().err
    missing = tmp_path / "nope.json"
    assert (
        main(["report", "--baseline", str(missing), "x.csv", "-o", str(tmp_path / "r.html")]) == 2
    )
    assert "baseline file not found" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_python_m_otelml_report(tmp_path):
    out = tmp_path / "r.html"
    proc = subprocess.run(
        [sys.executable, "-m", "otelml", "report", "--example", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout
    assert out.stat().st_size > 10_000
