"""to_columns: every accepted input type gives the same dict of numpy columns."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from otelml._tabular import slice_rows, to_columns


def _check_plain(cols: dict[str, np.ndarray]) -> None:
    assert list(cols) == ["x", "n", "s"]
    np.testing.assert_array_equal(cols["x"], [1.5, 2.5, 3.5])
    np.testing.assert_array_equal(cols["n"], [1, 2, 3])
    assert cols["n"].dtype.kind == "i"
    assert list(cols["s"]) == ["a", "b", "c"]
    assert all(isinstance(v, np.ndarray) and v.ndim == 1 for v in cols.values())


PLAIN = {"x": [1.5, 2.5, 3.5], "n": [1, 2, 3], "s": ["a", "b", "c"]}


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: PLAIN, id="dict-of-lists"),
        pytest.param(lambda: {k: np.array(v) for k, v in PLAIN.items()}, id="dict-of-numpy"),
        pytest.param(lambda: pd.DataFrame(PLAIN), id="pandas"),
        pytest.param(lambda: pl.DataFrame(PLAIN), id="polars"),
        pytest.param(lambda: pa.table(PLAIN), id="pyarrow-table"),
        pytest.param(lambda: pa.RecordBatch.from_pydict(PLAIN), id="pyarrow-batch"),
        pytest.param(
            lambda: np.array(
                list(zip(*PLAIN.values(), strict=True)),
                dtype=[("x", "f8"), ("n", "i8"), ("s", "U1")],
            ),
            id="numpy-structured",
        ),
        pytest.param(
            lambda: {
                "x": pd.Series(PLAIN["x"]),
                "n": pl.Series(PLAIN["n"]),
                "s": pa.chunked_array([PLAIN["s"]]),
            },
            id="dict-of-series",
        ),
    ],
)
def test_every_input_type(make):
    _check_plain(to_columns(make()))


def test_2d_numpy_needs_names():
    arr = np.arange(6.0).reshape(3, 2)
    cols = to_columns(arr, feature_names=["a", "b"])
    np.testing.assert_array_equal(cols["b"], [1.0, 3.0, 5.0])
    with pytest.raises(ValueError, match="needs feature_names"):
        to_columns(arr)
    with pytest.raises(ValueError, match="2 columns"):
        to_columns(arr, feature_names=["a"])
    with pytest.raises(ValueError, match="unique"):
        to_columns(arr, feature_names=["a", "a"])
    with pytest.raises(ValueError, match="2-D"):
        to_columns(np.arange(3.0))


def test_feature_names_select_columns_and_errors():
    df = pd.DataFrame(PLAIN)
    assert list(to_columns(df, ["s", "x"])) == ["s", "x"]
    with pytest.raises(KeyError, match="'zz'"):
        to_columns(df, ["zz"])
    with pytest.raises(TypeError, match=r"cannot read columns from builtins\.list"):
        to_columns([1, 2, 3])
    with pytest.raises(ValueError, match="different lengths"):
        to_columns({"a": [1, 2], "b": [1]})
    with pytest.raises(ValueError, match="1-D"):
        to_columns({"a": np.zeros((2, 2))})


def _nulls_expected(cols: dict[str, np.ndarray]) -> None:
    f, i, s, b = cols["f"], cols["i"], cols["s"], cols["b"]
    assert np.ma.isMaskedArray(f)
    assert np.ma.getmaskarray(f).tolist() == [False, True, False]
    assert np.ma.getdata(f)[0] == 1.0
    assert np.ma.isMaskedArray(i)
    assert np.ma.getdata(i).dtype.kind == "i"
    assert np.ma.getmaskarray(i).tolist() == [False, True, False]
    assert s.dtype == object
    assert s.tolist() == ["a", None, "c"]
    assert np.ma.getmaskarray(b).tolist() == [False, True, False]
    assert np.ma.getdata(b).dtype == bool


def test_nulls_pandas_polars_arrow_agree():
    pdf = pd.DataFrame(
        {
            "f": pd.array([1.0, None, 3.0], dtype="Float64"),
            "i": pd.array([1, None, 3], dtype="Int64"),
            "s": pd.array(["a", None, "c"], dtype="string"),
            "b": pd.array([True, None, False], dtype="boolean"),
        }
    )
    _nulls_expected(to_columns(pdf))
    data = {
        "f": [1.0, None, 3.0],
        "i": [1, None, 3],
        "s": ["a", None, "c"],
        "b": [True, None, False],
    }
    _nulls_expected(to_columns(pl.DataFrame(data)))
    _nulls_expected(to_columns(pa.table(data)))


def test_nan_is_not_missing_and_python_numbers_with_none():
    cols = to_columns({"x": np.array([1.0, np.nan]), "y": [1, None, 2.5][:2]})
    assert not np.ma.isMaskedArray(cols["x"])
    assert np.isnan(cols["x"][1])
    assert np.ma.isMaskedArray(cols["y"])
    assert np.ma.getmaskarray(cols["y"]).tolist() == [False, True]
    # polars keeps NaN and null apart as well
    pcols = to_columns(pl.DataFrame({"x": [1.0, float("nan"), None]}))
    assert np.ma.getmaskarray(pcols["x"]).tolist() == [False, False, True]
    assert np.isnan(np.ma.getdata(pcols["x"])[1])


def test_categoricals_become_strings():
    pdf = pd.DataFrame({"c": pd.Categorical(["u", None, "v"])})
    assert to_columns(pdf)["c"].tolist() == ["u", None, "v"]
    plf = pl.DataFrame({"c": ["u", None, "v"]}, schema={"c": pl.Categorical})
    assert to_columns(plf)["c"].tolist() == ["u", None, "v"]
    tbl = pa.table({"c": pa.array(["u", None, "v"]).dictionary_encode()})
    assert to_columns(tbl)["c"].tolist() == ["u", None, "v"]


def test_slice_rows_views():
    cols = {"a": np.arange(10)}
    chunks = slice_rows(cols, 4)
    assert [c["a"].tolist() for c in chunks] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert np.shares_memory(chunks[0]["a"], cols["a"])


def test_no_heavy_import_for_plain_inputs():
    code = (
        "import sys, numpy as np\n"
        "from otelml._tabular import to_columns\n"
        "to_columns({'a': [1, 2]}); to_columns(np.zeros((2, 1)), ['a'])\n"
        "heavy = [m for m in ('pandas', 'polars', 'pyarrow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
