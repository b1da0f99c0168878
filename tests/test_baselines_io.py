"""build_baseline from CSV and Parquet paths, save/load, and their errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from otelml.baselines import (
    _Progress,
    build_baseline,
    load_baseline,
    profile_current,
    save_baseline,
)
from otelml.stats.baseline import SCHEMA_VERSION, BaselineFormatError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 1000
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 7, n),
            "c": rng.choice(np.array(["a", "b", "c"]), n),
            "score": rng.random(n),
            "y": rng.integers(0, 2, n),
        }
    )
    df.loc[::50, "c"] = None
    return df


def _same(a, b) -> None:
    assert a.features.keys() == b.features.keys()
    for name in a.features:
        fa, fb = a.features[name], b.features[name]
        assert (fa.kind, fa.edges, fa.ref_counts, fa.categories, fa.count, fa.missing_rate) == (
            fb.kind,
            fb.edges,
            fb.ref_counts,
            fb.categories,
            fb.count,
            fb.missing_rate,
        ), name


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_file_equals_in_memory_with_tiny_chunks(tmp_path, frame, suffix):
    path = tmp_path / f"ref{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path, row_group_size=333)
    else:
        frame.to_csv(path, index=False)
    kw = {"model": "m", "version": "1", "prediction": "score", "label": "y"}
    from_file = build_baseline(path, chunk_rows=37, **kw)
    in_memory = build_baseline(frame, **kw)
    _same(from_file, in_memory)
    assert from_file.features["c"].missing_rate == 20 / 1000
    pa_, pb_ = from_file.prediction, in_memory.prediction
    assert pa_ is not None
    assert pb_ is not None
    assert (pa_.edges, pa_.ref_counts) == (pb_.edges, pb_.ref_counts)
    assert pa_.mean == pytest.approx(pb_.mean, rel=1e-12)  # chunked sums round differently


def test_sampled_two_pass_from_parquet(tmp_path, frame):
    path = tmp_path / "ref.parquet"
    frame.to_parquet(path)
    bl = build_baseline(path, model="m", version="1", max_exact=100, chunk_rows=64)
    x = frame["x"].to_numpy()
    fb = bl.features["x"]
    assert fb.quantile_method == "sample"
    idx = np.searchsorted(np.array(fb.edges), x, side="left")
    assert fb.ref_counts == tuple(np.bincount(idx, minlength=len(fb.edges) + 1).tolist())


def test_options_features_categorical_importances(tmp_path, frame):
    bl = build_baseline(
        frame,
        model="m",
        version="1",
        features=["x", "k"],
        categorical=["k"],
        importances={"x": 2.0},
    )
    assert list(bl.features) == ["x", "k"]
    assert bl.features["k"].kind == "categorical"
    assert bl.features["x"].importance == 2.0
    with pytest.raises(ValueError, match="both categorical and numeric"):
        build_baseline(frame, model="m", version="1", categorical=["k"], numeric=["k"])
    with pytest.raises(KeyError, match="nope"):
        build_baseline(frame, model="m", version="1", features=["nope"])
    arr = frame[["x", "k"]].to_numpy()
    bl2 = build_baseline(arr, model="m", version="1", feature_names=["x", "k"])
    assert bl2.features["x"].edges == bl.features["x"].edges


def test_progress_lines(tmp_path, frame, capsys):
    path = tmp_path / "ref.parquet"
    frame.to_parquet(path)
    build_baseline(path, model="m", version="1", chunk_rows=100, progress=True)
    err = capsys.readouterr().err
    assert "baseline: reading: 1,000 / 1,000 rows (100%)" in err
    calls = []
    build_baseline(
        frame,
        model="m",
        version="1",
        chunk_rows=400,
        progress=lambda stage, rows, total: calls.append((rows, total)),
    )
    assert calls[-1] == (1000, 1000)
    csv = tmp_path / "ref.csv"
    frame.to_csv(csv, index=False)
    build_baseline(csv, model="m", version="1", progress=True)
    assert "baseline: reading: 1,000 rows" in capsys.readouterr().err  # total unknown


def test_progress_rewrites_line_on_a_tty():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    p = _Progress(True, stream=out)
    p("s", 5, 10)
    p("s", 10, 10, final=True)
    assert out.getvalue() == "\rs: 5 / 10 rows (50%)\rs: 10 / 10 rows (100%)\n"


def test_save_load_round_trip_atomic(tmp_path, frame):
    bl = build_baseline(frame, model="m", version="1", prediction="score", label="y")
    path = tmp_path / "b.json"
    save_baseline(bl, path)
    assert load_baseline(path) == bl
    assert [p.name for p in tmp_path.iterdir()] == ["b.json"]  # no temp file left behind
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == SCHEMA_VERSION


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="baseline file not found"):
        load_baseline(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(BaselineFormatError, match=r"bad\.json: baseline is not valid JSON"):
        load_baseline(bad)
    future = tmp_path / "future.json"
    future.write_text(json.dumps({"format": "otelml.baseline", "schema_version": 99}))
    with pytest.raises(BaselineFormatError, match="schema_version 99 is not supported"):
        load_baseline(future)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(BaselineFormatError, match="not UTF-8"):
        load_baseline(binary)


def test_bad_data_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="data file not found"):
        build_baseline(tmp_path / "none.csv", model="m", version="1")
    weird = tmp_path / "data.xlsx"
    weird.write_text("x")
    with pytest.raises(ValueError, match="unsupported file type"):
        build_baseline(weird, model="m", version="1")
    mixed = tmp_path / "mixed.csv"
    # Floats in the first block (1 MiB), text later: the cell is invalid, the file still reads.
    mixed.write_text("x\n" + "1.5\n" * 300_000 + "oops\n")
    fb = build_baseline(mixed, model="m", version="1").features["x"]
    assert fb.kind == "numeric"
    assert fb.nan_rate == pytest.approx(1 / 300_001)


def test_csv_type_change_after_first_block(tmp_path):
    # Integers in the first block, fractions later: read as float64 rather than failing.
    path = tmp_path / "late.csv"
    rows = ["1"] * 200_000 + ["2.5"]
    path.write_text("x\n" + "\n".join(rows) + "\n")
    fb = build_baseline(path, model="m", version="1").features["x"]
    assert fb.max == 2.5
    assert fb.count == 200_001


def test_profile_current_counts_on_baseline_bins(tmp_path, frame):
    bl = build_baseline(frame, model="m", version="1", prediction="score")
    cur = frame.drop(columns=["k"]).iloc[:500]
    path = tmp_path / "cur.parquet"
    pa_table = pa.Table.from_pandas(cur, preserve_index=False)
    pq.write_table(pa_table, path)
    prof = profile_current(path, bl, chunk_rows=77)
    assert prof.rows == 500
    assert prof.absent == ["k"]
    x = cur["x"].to_numpy()
    idx = np.searchsorted(np.array(bl.features["x"].edges), x, side="left")
    np.testing.assert_array_equal(
        prof.sketches["x"].counts, np.bincount(idx, minlength=len(bl.features["x"].edges) + 1)
    )
    assert prof.missing["c"] == 10
    assert "score" in prof.sketches
