"""Missing means the same for every container, and a category's identity does not depend on how
a number was typed (issue 17, items 4, 5 and 7), at the call site."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import otelml.instrumentation as oi
from otelml import semconv
from otelml.testing import Capture

EDGES = [0.0, 1.0]
NAN = float("nan")

# The same column, [0.25, <missing>, 0.75, <missing>], as each container writes a missing value.
CONTAINERS: dict[str, Any] = {
    "pandas_nan": lambda: pd.DataFrame({"a": [0.25, NAN, 0.75, None]}),
    "pandas_nullable": lambda: pd.DataFrame({"a": pd.array([0.25, None, 0.75, None], "Float64")}),
    "pandas_object": lambda: pd.DataFrame({"a": pd.Series([0.25, None, 0.75, NAN], dtype=object)}),
    "polars": lambda: pl.DataFrame({"a": [0.25, None, 0.75, None]}),
    "polars_nan": lambda: pl.DataFrame({"a": [0.25, NAN, 0.75, None]}),
    "arrow": lambda: pa.table({"a": [0.25, None, 0.75, None]}),
    "records": lambda: [{"a": 0.25}, {"a": None}, {"a": 0.75}, {"a": NAN}],
    "columns": lambda: {"a": np.array([0.25, NAN, 0.75, NAN])},
    "numpy": lambda: np.array([[0.25], [NAN], [0.75], [NAN]]),
}


def _quality(telemetry: Capture, name: str = "a") -> tuple[int, dict[str, int]]:
    [missing] = telemetry.points(semconv.FEATURE_MISSING.name, {semconv.FEATURE_NAME: name})
    invalid = {
        p.attributes[semconv.QUALITY_ISSUE]: p.value
        for p in telemetry.points(semconv.FEATURE_INVALID.name, {semconv.FEATURE_NAME: name})
    }
    return missing.value, invalid


@pytest.mark.parametrize("kind", sorted(CONTAINERS))
def test_missing_is_missing_whatever_the_container(telemetry: Capture, kind: str) -> None:
    f = oi.observe(model=f"miss-{kind}", baseline={"a": EDGES}, feature_names=["a"])(
        lambda data: np.zeros(4)
    )
    f(CONTAINERS[kind]())
    assert _quality(telemetry) == (2, {})
    assert telemetry.errors == []


def test_single_rows_count_nan_as_missing_by_default(telemetry: Capture) -> None:
    f = oi.observe(model="miss-rows", baseline={"a": EDGES})(lambda row: 1.0)
    for v in (0.5, NAN, None, np.float64("nan")):
        f({"a": v})
    assert _quality(telemetry) == (3, {})


def test_nan_from_computation_is_told_apart_when_asked(telemetry: Capture) -> None:
    f = oi.observe(model="miss-strict", baseline={"a": EDGES}, nan_is_missing=False)(
        lambda data: np.zeros(4)
    )
    f(pl.DataFrame({"a": [0.25, NAN, 0.75, None]}))
    f({"a": NAN})
    f({"a": None})
    assert _quality(telemetry) == (2, {"nan": 2})


@pytest.mark.parametrize(
    "values",
    [
        [1, 1.0, "1", np.int64(1), np.float32(1.0), np.uint8(1)],
        [True, np.bool_(True), "True"],
    ],
    ids=["one", "true"],
)
def test_a_category_is_the_same_however_it_was_typed(telemetry: Capture, values: list[Any]) -> None:
    f = oi.observe(model="cat-rows", categorical=["code"])(lambda row: 1.0)
    for v in values:
        f({"code": v})
    pts = telemetry.points(semconv.FEATURE_CATEGORY_COUNT.name, {semconv.FEATURE_NAME: "code"})
    assert {p.attributes[semconv.FEATURE_CATEGORY]: p.value for p in pts} == {
        str(values[-1]) if isinstance(values[-1], str) else "1": len(values)
    }


@pytest.mark.parametrize(
    "column",
    [
        lambda: pd.DataFrame({"code": [1.0, 2.0, 1.0]}),
        lambda: pd.DataFrame({"code": [1, 2, 1]}),
        lambda: pd.DataFrame({"code": ["1", "2", "1"]}),
        lambda: pa.table({"code": pa.array([1.0, 2.0, 1.0])}),
        lambda: pl.DataFrame({"code": [1, 2, 1]}),
        lambda: [{"code": 1.0}, {"code": 2}, {"code": "1"}],
    ],
    ids=["pandas_float", "pandas_int", "pandas_str", "arrow_float", "polars_int", "records"],
)
def test_a_categorical_column_counts_one_spelling(telemetry: Capture, column: Any) -> None:
    f = oi.observe(model="cat-cols", categorical=["code"])(lambda data: np.zeros(3))
    f(column())
    pts = telemetry.points(semconv.FEATURE_CATEGORY_COUNT.name, {semconv.FEATURE_NAME: "code"})
    assert {p.attributes[semconv.FEATURE_CATEGORY]: p.value for p in pts} == {"1": 2, "2": 1}


def _labels(telemetry: Capture) -> dict[str, int]:
    pts = telemetry.points(semconv.PREDICTION_LABEL_COUNT.name, {semconv.SEGMENT: ""})
    return {p.attributes[semconv.PREDICTION_LABEL]: p.value for p in pts}


def test_a_frame_with_label_and_score_columns_is_read_by_name(telemetry: Capture) -> None:
    out = pd.DataFrame({"label": ["fraud", "ok", "ok"], "score": [0.9, 0.2, 0.1]})
    f = oi.observe(model="out-frame", task="binary_classification")(lambda rows: out)
    f([{"a": 1.0}] * 3)
    assert _labels(telemetry) == {"fraud": 1, "ok": 2}
    [p] = telemetry.points(semconv.PREDICTION_VALUES.name, {semconv.SEGMENT: ""})
    assert p.count == 3
    assert p.sum == pytest.approx(1.2)
    assert telemetry.errors == []


@pytest.mark.parametrize("label", [1, np.int64(1), 1.0])
def test_an_integer_label_in_a_dict_output_is_recorded(telemetry: Capture, label: Any) -> None:
    f = oi.observe(model="out-dict", task="binary_classification")(lambda row: {"label": label})
    f({"a": 1.0})
    assert _labels(telemetry) == {"1": 1}
    assert telemetry.errors == []
