"""Offline readers agree with each other and with the call site (issue 17, items 4-6, 8, 10, 12).

The same table, fed as pandas, polars, Arrow, CSV, Parquet, a dict of lists and a numpy
structured array, gives the same baseline, the same quality counts and the same drift table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from otelml.baselines import build_baseline, profile_current
from otelml.report.table import drift_report

N = 400


def _table(seed: int, shift: float = 0.0) -> dict[str, list[Any]]:
    rng = np.random.default_rng(seed)
    amount: list[Any] = (rng.normal(size=N) + shift).round(3).tolist()
    count: list[Any] = rng.integers(0, 9, N).tolist()
    code: list[Any] = rng.integers(1, 4, N).tolist()
    country: list[Any] = rng.choice(["FR", "US", "DE"], N).tolist()
    label: list[Any] = rng.integers(0, 2, N).tolist()
    for col in (amount, count, code, country):
        for i in range(3, N, 37):
            col[i] = None
    return {
        "amount": amount,
        "count": count,
        "code": code,
        "country": country,
        "score": rng.random(N).round(4).tolist(),
        "label": label,
    }


def _pandas(t: dict[str, list[Any]], _: Path) -> Any:
    return pd.DataFrame(t)


def _csv(t: dict[str, list[Any]], tmp: Path) -> Any:
    path = tmp / "t.csv"
    pd.DataFrame(t).to_csv(path, index=False)
    return path


def _parquet(t: dict[str, list[Any]], tmp: Path) -> Any:
    path = tmp / "t.parquet"
    pq.write_table(pa.table(t), path)
    return path


def _structured(t: dict[str, list[Any]], _: Path) -> Any:
    # numpy has no missing marker for ints or strings: objects with None, as users build them.
    return np.rec.fromarrays([np.asarray(v, dtype=object) for v in t.values()], names=list(t)).view(
        np.ndarray
    )


CONTAINERS: dict[str, Callable[[dict[str, list[Any]], Path], Any]] = {
    "pandas": _pandas,
    "polars": lambda t, _: pl.DataFrame(t),
    "arrow": lambda t, _: pa.table(t),
    "csv": _csv,
    "parquet": _parquet,
    "dicts": lambda t, _: {k: list(v) for k, v in t.items()},
    "numpy": _structured,
}


def _summary(b: Any) -> dict[str, Any]:
    doc = b.to_dict()
    doc.pop("created_at", None)
    return doc


def _build(data: Any) -> Any:
    return build_baseline(
        data,
        model="m",
        version="1",
        categorical=["code", "label"],
        numeric=["count"],
        prediction="score",
        label="label",
    )


@pytest.mark.parametrize("kind", sorted(CONTAINERS))
def test_every_container_gives_the_same_baseline_quality_and_drift(
    kind: str, tmp_path: Path
) -> None:
    ref, cur = _table(0), _table(1, shift=0.8)
    expected = _build(pd.DataFrame(ref))
    got = _build(CONTAINERS[kind](ref, tmp_path / "ref"))
    assert _summary(got) == _summary(expected)
    fb = got.features
    assert fb["amount"].missing_rate == pytest.approx(11 / N)
    assert fb["amount"].nan_rate == 0.0  # pandas' NaN and everyone's null are both missing
    assert set(fb["code"].categories) == {"1", "2", "3"}
    assert set(got.label.categories) == {"0", "1"}
    want = profile_current(pd.DataFrame(cur), expected)
    prof = profile_current(CONTAINERS[kind](cur, tmp_path / "cur"), expected)
    assert prof.rows == want.rows == N
    assert prof.missing == want.missing
    assert prof.type_mismatch == want.type_mismatch
    assert drift_report(expected, prof) == drift_report(expected, want)


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path) -> None:
    (tmp_path / "ref").mkdir()
    (tmp_path / "cur").mkdir()


def test_a_categorical_number_is_one_category_however_it_was_read(tmp_path: Path) -> None:
    """Integers read from a CSV are floats; the baseline still says "1", as the app sends."""
    path = tmp_path / "p.csv"
    pd.DataFrame({"x": np.arange(200.0), "pred": [1, 0] * 100}).to_csv(path, index=False)
    assert path.read_text().splitlines()[1].endswith(",1")  # the file says 1, not 1.0
    pq.write_table(pa.table({"x": np.arange(200.0), "pred": [1.0, 0.0] * 100}), tmp_path / "p.pq")
    for data in (path, tmp_path / "p.pq"):
        b = build_baseline(data, model="m", version="1", categorical=["pred"], prediction="pred")
        assert set(b.prediction.categories) == {"0", "1"}


def test_nan_can_be_told_apart_offline_when_asked() -> None:
    data = pa.table({"a": pa.array([0.5, float("nan"), None, 1.5] * 50)})
    default = build_baseline(data, model="m", version="1")
    strict = build_baseline(data, model="m", version="1", nan_is_missing=False)
    assert default.features["a"].missing_rate == pytest.approx(0.5)
    assert default.features["a"].nan_rate == 0.0
    assert strict.features["a"].missing_rate == pytest.approx(0.25)
    assert strict.features["a"].nan_rate == pytest.approx(0.25)


def _dirty_csv(path: Path, n: int, bad_every: int) -> int:
    rng = np.random.default_rng(3)
    values = [f"{v:.4f}" for v in rng.normal(size=n)]
    bad = 0
    for i in range(n - 1, 0, -bad_every):  # dirty cells late in the file, past the first block
        values[i] = "?"
        bad += 1
    path.write_text("amount,city\n" + "".join(f"{v},c{i % 5}\n" for i, v in enumerate(values)))
    return bad


def test_a_numeric_column_with_a_few_dirty_cells_stays_numeric(tmp_path: Path) -> None:
    path = tmp_path / "dirty.csv"
    bad = _dirty_csv(path, 2_000, 50)  # 2% "?"
    b = build_baseline(path, model="m", version="1")
    assert b.features["amount"].kind == "numeric"
    assert b.features["amount"].nan_rate == pytest.approx(bad / 2_000)  # invalid, not missing


def test_offline_drift_counts_dirty_cells_as_type_mismatch(tmp_path: Path) -> None:
    clean = tmp_path / "clean.csv"
    _dirty_csv(clean, 2_000, 10**9)
    baseline = build_baseline(clean, model="m", version="1")
    dirty = tmp_path / "dirty.csv"
    bad = _dirty_csv(dirty, 150_000, 500)  # a file larger than the reader's first block
    prof = profile_current(dirty, baseline)
    assert prof.rows == 150_000
    assert prof.type_mismatch["amount"] == bad
    assert prof.missing["amount"] == 0
    assert prof.sketches["amount"].count == 150_000 - bad


def test_an_unknown_declared_column_is_an_error_naming_it() -> None:
    data = pd.DataFrame({"a": np.arange(200.0)})
    with pytest.raises(ValueError, match="nope"):
        build_baseline(data, model="m", version="1", categorical=["nope"])
    with pytest.raises(ValueError, match="gone"):
        build_baseline(data, model="m", version="1", numeric=["gone"])


def test_a_baseline_too_small_to_compare_warns_with_its_row_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="otelml"):
        # Below the decision's min_reference (20 rows): no window can ever be compared with it.
        build_baseline(pd.DataFrame({"a": np.arange(12.0)}), model="m", version="1")
    assert any("12 rows" in r.getMessage() for r in caplog.records), caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="otelml"):
        build_baseline(pd.DataFrame({"a": np.arange(500.0)}), model="m", version="1")
    assert caplog.records == []


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow", "dicts"])
def test_the_call_site_counts_what_the_baseline_counted(kind: str, tmp_path: Path) -> None:
    """Missing values and category names agree between the live path and the offline one."""
    import otelml
    import otelml.testing
    from otelml import semconv

    ref = _table(0)
    baseline = _build(pd.DataFrame(ref))
    data = CONTAINERS[kind](ref, tmp_path)
    features = {k: v for k, v in data.items()} if isinstance(data, dict) else data
    with otelml.testing.capture() as telemetry:
        otelml.observe(model=f"parity-{kind}", baseline=baseline)(lambda d: np.zeros(N))(features)
        for name in ("amount", "count", "code", "country"):
            fb = baseline.features[name]
            [missing] = telemetry.points(semconv.FEATURE_MISSING.name, {semconv.FEATURE_NAME: name})
            assert missing.value == round(fb.missing_rate * fb.count), name
        cats = telemetry.points(semconv.FEATURE_CATEGORY_COUNT.name, {semconv.FEATURE_NAME: "code"})
        live = {p.attributes[semconv.FEATURE_CATEGORY]: p.value for p in cats}
        assert live == baseline.features["code"].categories
