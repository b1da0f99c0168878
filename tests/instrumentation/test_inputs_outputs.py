"""Every input and output type lands in the right histogram / counter, against numpy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import scipy.sparse as sp

import otelml.instrumentation as oi
from otelml import semconv
from otelml.stats.histogram import FixedHistogram
from otelml.testing import Capture

EDGES = [-1.0, 0.0, 0.5, 1.0, 2.0]
RNG = np.random.default_rng(7)
A = RNG.normal(size=200)
B = RNG.normal(size=200)
C = RNG.choice(["x", "y", "z"], size=200)


def _expected(values: np.ndarray) -> list[int]:
    # Upper-inclusive bins, as OTel: searchsorted(side="left") then bincount.
    return np.bincount(
        np.searchsorted(EDGES, values, side="left"), minlength=len(EDGES) + 1
    ).tolist()


def _feature(telemetry: Capture, name: str) -> Any:
    [p] = telemetry.points(
        semconv.FEATURE_VALUES.name, {semconv.FEATURE_NAME: name, semconv.SEGMENT: ""}
    )
    return p


def _categories(telemetry: Capture, name: str) -> dict[str, int]:
    pts = telemetry.points(
        semconv.FEATURE_CATEGORY_COUNT.name, {semconv.FEATURE_NAME: name, semconv.SEGMENT: ""}
    )
    return {p.attributes[semconv.FEATURE_CATEGORY]: p.value for p in pts}


def _observed(**kw: Any) -> Any:
    return oi.observe(model="io", baseline={"a": EDGES, "b": EDGES}, **kw)(
        lambda data: np.zeros(200)
    )


INPUTS = {
    "pandas": lambda: pd.DataFrame({"a": A, "b": B, "c": C}),
    "polars": lambda: pl.DataFrame({"a": A, "b": B, "c": C}),
    "pyarrow": lambda: pa.table({"a": A, "b": B, "c": C}),
    "records": lambda: [
        {"a": float(a), "b": float(b), "c": str(c)} for a, b, c in zip(A, B, C, strict=True)
    ],
    "dict_of_columns": lambda: {"a": A, "b": B, "c": C},
}


@pytest.mark.parametrize("kind", sorted(INPUTS))
def test_tables_bin_each_column_like_numpy(telemetry: Capture, kind: str) -> None:
    _observed()(INPUTS[kind]())
    for name, values in (("a", A), ("b", B)):
        p = _feature(telemetry, name)
        assert list(p.explicit_bounds) == EDGES
        assert list(p.bucket_counts) == _expected(values)
        assert p.count == 200
        assert p.sum == pytest.approx(values.sum(), rel=1e-12)
    assert _categories(telemetry, "c") == {k: int((k == C).sum()) for k in "xyz"}
    [n] = telemetry.points(semconv.PREDICTION_COUNT.name, {semconv.SEGMENT: ""})
    assert n.value == 200
    assert telemetry.errors == []


def test_numpy_2d_with_names_and_sparse(telemetry: Capture) -> None:
    X = np.column_stack([A, B])
    _observed(feature_names=["a", "b"])(X)
    dense = np.where(np.abs(A) > 1, A, 0.0)
    _observed(feature_names=["a", "b"])(sp.csr_matrix(np.column_stack([dense, B])))
    p = _feature(telemetry, "a")
    assert list(p.bucket_counts) == (np.array(_expected(A)) + _expected(dense)).tolist()


def test_single_rows_dict_kwargs_and_1d_array(telemetry: Capture) -> None:
    @oi.observe(model="io", baseline={"a": EDGES, "b": EDGES})
    def by_dict(row: dict[str, Any]) -> float:
        return 0.5

    @oi.observe(model="io", baseline={"a": EDGES, "b": EDGES})
    def by_kwargs(a: float, b: float, c: str) -> float:
        return 0.5

    @oi.observe(model="io", baseline={"a": EDGES, "b": EDGES}, feature_names=["a", "b"])
    def by_array(x: np.ndarray) -> float:
        return 0.5

    for i in range(60):
        by_dict({"a": float(A[i]), "b": float(B[i]), "c": str(C[i])})
    for i in range(60, 120):
        by_kwargs(float(A[i]), b=float(B[i]), c=str(C[i]))
    for i in range(120, 200):
        by_array(np.array([A[i], B[i]]))
    assert list(_feature(telemetry, "a").bucket_counts) == _expected(A)
    assert list(_feature(telemetry, "b").bucket_counts) == _expected(B)
    assert _categories(telemetry, "c") == {k: int((C[:120] == k).sum()) for k in "xyz"}
    [n] = telemetry.points(semconv.PREDICTION_COUNT.name, {semconv.SEGMENT: ""})
    assert n.value == 200


def test_quality_counts_missing_nan_inf_type_mismatch(telemetry: Capture) -> None:
    # NaN told apart from missing (the default counts it as missing, like pandas).
    f = oi.observe(model="q", baseline={"a": EDGES}, nan_is_missing=False)(lambda row: 1.0)
    for v in [0.1, None, float("nan"), float("inf"), "oops", -float("inf"), 3]:
        f({"a": v})
    pts = telemetry.points(semconv.FEATURE_INVALID.name, {semconv.FEATURE_NAME: "a"})
    got = {
        (p.attributes[semconv.SEGMENT], p.attributes[semconv.QUALITY_ISSUE]): p.value for p in pts
    }
    assert got == {("", "nan"): 1, ("", "inf"): 2, ("", "type_mismatch"): 1}
    [missing] = telemetry.points(semconv.FEATURE_MISSING.name, {semconv.FEATURE_NAME: "a"})
    assert missing.value == 1
    p = _feature(telemetry, "a")
    assert p.count == 2
    assert list(p.bucket_counts) == _expected(np.array([0.1, 3.0]))


def test_exponential_buckets_without_baseline(telemetry: Capture) -> None:
    values = RNG.lognormal(size=500)
    oi.observe(model="expo")(lambda df: np.zeros(len(df)))(pd.DataFrame({"v": values}))
    [p] = telemetry.points(semconv.FEATURE_VALUES.name, {semconv.FEATURE_NAME: "v"})
    assert type(p).__name__ == "ExponentialHistogramDataPoint"
    assert p.count == 500
    # Reconstruct bucket bounds and check every value falls in its bucket's count.
    base = 2.0 ** (2.0**-p.scale)
    idx = np.ceil(np.log(values) / np.log(base)).astype(int) - 1
    counts = np.bincount(idx - p.positive.offset, minlength=len(p.positive.bucket_counts))
    assert counts.tolist() == list(p.positive.bucket_counts)


OUTPUTS: dict[str, tuple[Any, str, Any]] = {
    "scalar": (0.25, "value", [0.25]),
    "label": ("fraud", "label", {"fraud": 1}),
    "int_label": (1, "label", {"1": 1}),
    "array": (np.array([0.1, 0.9]), "value", [0.1, 0.9]),
    "labels": (np.array(["a", "b", "a"]), "label", {"a": 2, "b": 1}),
    "proba_binary": (np.array([[0.8, 0.2], [0.3, 0.7]]), "value", [0.2, 0.7]),
    "proba_multi": (np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]]), "label", {"2": 1, "0": 1}),
    "dict": ({"label": "yes", "score": 0.6}, "value", [0.6]),
    "frame": (pd.DataFrame({"score": [0.3, 0.4]}), "value", [0.3, 0.4]),
}


@pytest.mark.parametrize("kind", sorted(OUTPUTS))
def test_outputs(telemetry: Capture, kind: str) -> None:
    result, what, expected = OUTPUTS[kind]
    n = len(expected) if isinstance(expected, list) else sum(expected.values())
    rows = [{"a": 0.0}] * n
    out = oi.observe(model="out", baseline={"a": EDGES})(lambda r: result)(
        rows[0] if n == 1 else rows
    )
    assert out is result
    if what == "value":
        [p] = telemetry.points(semconv.PREDICTION_VALUES.name, {semconv.SEGMENT: ""})
        assert p.count == len(expected)
        assert p.sum == pytest.approx(sum(expected))
    else:
        pts = telemetry.points(semconv.PREDICTION_LABEL_COUNT.name, {semconv.SEGMENT: ""})
        assert {p.attributes[semconv.PREDICTION_LABEL]: p.value for p in pts} == expected
    assert telemetry.errors == []


def test_user_extractors(telemetry: Capture) -> None:
    class Request:
        def __init__(self, amount: float) -> None:
            self.amount = amount

    @oi.observe(
        model="ext",
        baseline={"amount": EDGES},
        inputs=lambda req: {"amount": req.amount},
        outputs=lambda res: res["p"],
    )
    def predict(req: Request) -> dict[str, float]:
        return {"p": 0.75}

    assert predict(Request(0.7)) == {"p": 0.75}
    assert list(_feature(telemetry, "amount").bucket_counts) == _expected(np.array([0.7]))
    [p] = telemetry.points(semconv.PREDICTION_VALUES.name, {semconv.SEGMENT: ""})
    assert p.sum == 0.75


def test_unreadable_input_is_counted_not_raised(telemetry: Capture) -> None:
    f = oi.observe(model="bad")(lambda obj: 1.0)
    assert f(object()) == 1.0
    assert [k for k, _ in telemetry.errors] == []  # scalars become a one-row dict of arguments
    g = oi.observe(model="bad", input_arg=0)(lambda obj: 1.0)
    assert g(object()) == 1.0
    assert [k for k, _ in telemetry.errors] == ["extract_inputs"]
    assert len(telemetry.spans()) == 2


def test_reference_histogram_class_agrees(telemetry: Capture) -> None:
    h = FixedHistogram(EDGES)
    h.update_many(A)
    _observed()(pd.DataFrame({"a": A}))
    assert list(_feature(telemetry, "a").bucket_counts) == h.counts.tolist()
