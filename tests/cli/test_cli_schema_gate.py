"""The CI gate fails on data that does not match the baseline's schema (issue 17, items 8-10)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from otelml.cli import main
from otelml.cli.drift import EXIT_DRIFT, EXIT_SCHEMA


def _frame(n: int, seed: int = 0, **renames: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"age": rng.normal(40, 9, n), "city": rng.choice(["a", "b"], n)})
    return df.rename(columns=renames)


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    ref = tmp_path / "ref.csv"
    _frame(600).to_csv(ref, index=False)
    out = tmp_path / "b.json"
    assert (
        main(["baseline", "build", str(ref), "--model", "m", "--version", "1", "-o", str(out)]) == 0
    )
    return out


def _drift(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["drift", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_another_models_baseline_fails_the_gate_naming_the_columns(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.csv"
    pd.DataFrame({"income": np.arange(300.0), "device": ["x", "y"] * 150}).to_csv(
        other, index=False
    )
    rc, out, err = _drift(capsys, "--baseline", str(baseline), str(other), "--fail-on-drift")
    assert rc == EXIT_SCHEMA
    text = out + err
    for name in ("age", "city", "income", "device"):
        assert name in text, text


def test_renamed_columns_fail_the_gate_and_are_named(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cur = tmp_path / "cur.csv"
    _frame(400, 1, city="town").to_csv(cur, index=False)
    rc, out, err = _drift(capsys, "--baseline", str(baseline), str(cur), "--fail-on-drift")
    assert rc == EXIT_SCHEMA
    assert "town" in out + err
    assert "city" in out + err


def test_extra_columns_can_be_allowed(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cur = tmp_path / "cur.csv"
    _frame(400, 1).assign(request_id=range(400)).to_csv(cur, index=False)
    args = ["--baseline", str(baseline), str(cur), "--fail-on-drift"]
    assert _drift(capsys, *args)[0] == EXIT_SCHEMA
    assert _drift(capsys, *args, "--allow-columns", "request_id")[0] == 0


def test_a_header_only_file_fails_the_gate(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cur = tmp_path / "empty.csv"
    cur.write_text("age,city\n")
    rc, out, err = _drift(capsys, "--baseline", str(baseline), str(cur), "--fail-on-drift")
    assert rc == EXIT_SCHEMA
    assert "no rows" in out + err


def test_json_carries_status_counts_and_quality(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cur = tmp_path / "cur.csv"
    df = _frame(400, 1)
    df["age"] = df["age"].round(2).astype(object)
    df.loc[:9, "age"] = "?"
    df.loc[10:29, "city"] = None
    df.to_csv(cur, index=False)
    rc, out, _ = _drift(capsys, "--baseline", str(baseline), str(cur), "--format", "json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["status"] == "ok"
    assert doc["counts"]["columns"] == 2
    assert doc["counts"]["drift"] == 0
    assert doc["schema"] == {"missing": [], "unknown": [], "rows": 400}
    assert doc["quality"]["age"]["type_mismatch"] == 10
    assert doc["quality"]["city"]["missing"] == 20


def test_json_status_says_schema_mismatch(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cur = tmp_path / "cur.csv"
    _frame(400, 1, city="town").to_csv(cur, index=False)
    args = ["--baseline", str(baseline), str(cur), "--format", "json", "--fail-on-drift"]
    rc, out, _ = _drift(capsys, *args)
    assert rc == EXIT_SCHEMA
    doc = json.loads(out)
    assert doc["status"] == "schema_mismatch"
    assert doc["schema"]["missing"] == ["city"]
    assert doc["schema"]["unknown"] == ["town"]


def test_drift_exit_code_is_unchanged(
    tmp_path: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cur = tmp_path / "cur.csv"
    df = _frame(400, 1)
    df["age"] += 30
    df.to_csv(cur, index=False)
    assert _drift(capsys, "--baseline", str(baseline), str(cur), "--fail-on-drift")[0] == EXIT_DRIFT


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["drift", "--help"])
    text = capsys.readouterr().out
    assert "exit status" in text.lower()
    assert "3" in text
    assert "schema" in text


def test_unknown_categorical_column_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = tmp_path / "ref.csv"
    _frame(300).to_csv(ref, index=False)
    out = tmp_path / "b.json"
    args = ["baseline", "build", str(ref), "--model", "m", "--version", "1", "-o", str(out)]
    capsys.readouterr()
    assert main([*args, "--categorical", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert not out.exists()


def test_a_small_baseline_is_built_with_a_warning_naming_its_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = tmp_path / "ref.csv"
    # Below the decision's min_reference (20 rows since the small-n tests): never comparable.
    _frame(12).to_csv(ref, index=False)
    out = tmp_path / "b.json"
    capsys.readouterr()
    assert (
        main(["baseline", "build", str(ref), "--model", "m", "--version", "1", "-o", str(out)]) == 0
    )
    err = capsys.readouterr().err
    assert "warning" in err
    assert "12 rows" in err
