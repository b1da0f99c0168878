"""otelml baseline / otelml drift, in process and as a real ``python -m otelml`` subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from otelml.baselines import load_baseline
from otelml.cli import main
from otelml.examples_data import DRIFTED_FEATURES, STABLE_FEATURES, example_frames


@pytest.fixture
def files(tmp_path):
    ref, cur = example_frames(0)
    ref_path, cur_path = tmp_path / "ref.csv", tmp_path / "cur.parquet"
    pd.DataFrame(ref).to_csv(ref_path, index=False)
    pd.DataFrame(cur).to_parquet(cur_path)
    return ref_path, cur_path, tmp_path / "b.json"


def _statuses(doc: dict) -> dict[str, str]:
    return {r["feature"]: r["status"] for r in doc["features"]}


def test_build_show_and_drift_in_process(files, capsys):
    ref, cur, out = files
    rc = main(
        [
            "baseline",
            "build",
            str(ref),
            "--model",
            "shop",
            "--version",
            "2",
            "--numeric",
            "is_member",
            "--bins",
            "5",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    bl = load_baseline(out)
    assert (bl.model, bl.version) == ("shop", "2")
    assert bl.features["is_member"].kind == "numeric"
    assert len(bl.features["age"].edges) <= 6
    assert "wrote" in capsys.readouterr().err

    assert main(["baseline", "show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "income" in shown
    assert "categorical" in shown

    assert main(["drift", "--baseline", str(out), str(cur), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    statuses = _statuses(doc)
    assert all(statuses[f] == "drift" for f in DRIFTED_FEATURES), statuses
    assert all(statuses[f] != "drift" for f in STABLE_FEATURES), statuses
    # ranked: drifted features first
    assert {r["feature"] for r in doc["features"][:2]} == set(DRIFTED_FEATURES)
    country = next(r for r in doc["features"] if r["feature"] == "country")
    assert any("new categories" in n and "BR" in n for n in country["notes"])

    assert main(["drift", "--baseline", str(out), str(cur), "--fail-on-drift"]) == 1
    table = capsys.readouterr().out
    assert "2 of 6 columns drifted" in table
    assert table.index("income") < table.index("age")


def test_example_flags_exactly_the_drifted_features(capsys):
    assert main(["drift", "--example", "--format", "json"]) == 0
    statuses = _statuses(json.loads(capsys.readouterr().out))
    assert sorted(f for f, s in statuses.items() if s == "drift") == sorted(DRIFTED_FEATURES)
    assert all(statuses[f] in ("ok", "warning") for f in STABLE_FEATURES), statuses


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_example_robust_to_seed(seed, capsys):
    assert main(["drift", "--example", "--seed", str(seed), "--format", "json"]) == 0
    statuses = _statuses(json.loads(capsys.readouterr().out))
    assert {f for f, s in statuses.items() if s == "drift"} == set(DRIFTED_FEATURES)


def test_errors_exit_2(tmp_path, capsys):
    assert main(["drift", "--baseline", str(tmp_path / "none.json"), "x.csv"]) == 2
    assert "baseline file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "otelml.baseline", "schema_version": 7}')
    assert main(["drift", "--baseline", str(bad), "x.csv"]) == 2
    assert "schema_version 7 is not supported" in capsys.readouterr().err
    assert main(["drift"]) == 2
    assert (
        main(
            [
                "baseline",
                "build",
                str(tmp_path / "no.csv"),
                "--model",
                "m",
                "--version",
                "1",
                "-o",
                str(tmp_path / "o.json"),
            ]
        )
        == 2
    )
    assert "data file not found" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_real_subprocess(files):
    ref, cur, out = files
    env_python = [sys.executable, "-m", "otelml"]
    subprocess.run(
        [
            *env_python,
            "baseline",
            "build",
            str(ref),
            "--model",
            "m",
            "--version",
            "1",
            "-o",
            str(out),
            "--progress",
        ],
        check=True,
        capture_output=True,
    )
    proc = subprocess.run(
        [*env_python, "drift", "--baseline", str(out), str(cur), "--fail-on-drift"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1, proc.stderr
    lines = {ln.split()[0]: ln for ln in proc.stdout.splitlines()[3:] if ln.strip()}
    assert all(" drift" in lines[f] for f in DRIFTED_FEATURES)
    example = subprocess.run(
        [*env_python, "drift", "--example"], capture_output=True, text=True, check=True
    )
    assert "2 of 6 columns drifted" in example.stdout


def test_prediction_column_is_compared(tmp_path, capsys):
    ref, cur = example_frames(0)
    ref["score"] = np.tanh(ref["income"] / 1e5)
    cur["score"] = np.tanh(cur["income"] / 1e5)
    ref_path, cur_path = tmp_path / "r.parquet", tmp_path / "c.parquet"
    pd.DataFrame(ref).to_parquet(ref_path)
    pd.DataFrame(cur).to_parquet(cur_path)
    out = tmp_path / "b.json"
    assert (
        main(
            [
                "baseline",
                "build",
                str(ref_path),
                "--model",
                "m",
                "--version",
                "1",
                "--prediction",
                "score",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert main(["drift", "--baseline", str(out), str(cur_path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["features"]
    score = next(r for r in rows if r["feature"] == "score")
    assert score["role"] == "prediction"
    assert score["status"] == "drift"
