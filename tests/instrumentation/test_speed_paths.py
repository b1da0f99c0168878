"""Fast paths agree with the value-by-value paths they replace.

Buffered single rows, vectorised column counting (Counter on object arrays, one type pass) and
the one-step span attributes must give exactly the counts and attributes of the per-value code,
including None, NaN, ±inf, bools, numpy scalars, strings in numeric features and unhashables.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

import otelml.instrumentation as oi
from otelml.instrumentation import _category_counting, _span_attributes, aggregate
from otelml.instrumentation.aggregate import (
    CATEGORICAL,
    NUMERIC,
    FeatureState,
    ModelAggregator,
    SegmentState,
)
from otelml.testing import Capture


def _snapshot(f: FeatureState) -> dict[str, Any]:
    """Everything a feature state exports, after folding (sum compared to 1e-12 relative)."""
    f.fold()
    h = f.hist
    hist: Any = None
    if h is not None:
        d = h.to_dict()
        hist = {k: v for k, v in d.items() if k != "sum"}
        hist["sum"] = pytest.approx(d["sum"], rel=1e-12, abs=1e-12)
    cats = None if f.cats is None else f.cats.counts
    return {
        "kind": f.kind,
        "missing": f.missing,
        "nan": f.nan,
        "inf": f.inf,
        "mismatch": f.mismatch,
        "hist": hist,
        "cats": cats,
    }


def _per_value(kind: str | None, values: list[Any], cap: int = 100) -> dict[str, Any]:
    f = FeatureState("x", kind, None, cap)
    for v in values:
        f.add_value(v)
    return _snapshot(f)


def _object_array(values: list[Any]) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


MIXED: list[Any] = [
    "a",
    None,
    "b",
    float("nan"),
    np.float64("nan"),
    1,
    1.0,
    True,
    np.int64(1),
    np.float32(2.5),
    np.str_("a"),
    np.bool_(False),
    [1, 2],
    "c",
    -0.0,
    math.inf,
]

STRINGS = ["x", "y", None, "z", "x", "x", None, "y"] * 40


@pytest.mark.parametrize(
    "values",
    [STRINGS, [*STRINGS, *MIXED], MIXED, [None, None, *STRINGS], [None, [1], *MIXED]],
    ids=["strings-none", "strings-mixed", "mixed", "leading-none", "leading-unknown"],
)
@pytest.mark.parametrize("kind", [CATEGORICAL, None])
def test_object_column_counts_like_value_by_value(values: list[Any], kind: str | None) -> None:
    f = FeatureState("x", kind, None, 100)
    f.add_column(_object_array(values))
    assert _snapshot(f) == _per_value(kind, values)


@pytest.mark.parametrize("pandas_at", [0, 10**9], ids=["pandas-factorize", "counter"])
@pytest.mark.parametrize(
    "values",
    [STRINGS, ["a", "b", "a"] * 10, [*STRINGS, *MIXED], [pd.NA, "a", pd.NaT, "b"] * 3],
    ids=["strings-none", "strings", "mixed", "pandas-missing-markers"],
)
def test_object_counting_with_or_without_pandas_agrees(
    values: list[Any], pandas_at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_category_counting, "_PANDAS_COUNT_AT", pandas_at)
    f = FeatureState("x", CATEGORICAL, None, 100)
    f.add_column(_object_array(values))
    assert _snapshot(f) == _per_value(CATEGORICAL, values)
    labels = _object_array([v for v in values if isinstance(v, str)])
    assert list(aggregate._label_counts(labels).items()) == list(
        _sorted_unique(labels.astype(str)).items()
    )


def _sorted_unique(arr: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(arr, return_counts=True)
    return {str(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)}


@pytest.mark.parametrize(
    "values",
    [
        [1.5, 2, None, -3.0, 7, None] * 50,
        [1.5, float("nan"), math.inf, -math.inf, 0.0, None] * 50,
        [1.5, "2.5", None, [1], 4, np.float64(3.0), np.int8(-2)] * 20,
    ],
    ids=["numbers-none", "nan-inf", "mismatches"],
)
def test_numeric_object_column_matches_the_documented_rules(values: list[Any]) -> None:
    # Object columns of a numeric feature: None missing, int/float/numpy numbers binned,
    # anything else a type mismatch.
    f = FeatureState("x", NUMERIC, None, 100)
    f.add_column(_object_array(values))
    ref = FeatureState("x", NUMERIC, None, 100)
    numbers = []
    for v in values:
        if v is None:
            ref.missing += 1
        elif isinstance(v, (int, float, np.number)):
            numbers.append(float(v))
        else:
            ref.mismatch += 1
    ref.add_numbers(np.asarray(numbers, dtype=np.float64))
    assert _snapshot(f) == _snapshot(ref)


@pytest.mark.parametrize("kind", [NUMERIC, CATEGORICAL])
@pytest.mark.parametrize(
    "values",
    [[1.0, 2, 3.5] * 30, [1.0, None, 2] * 30, ["a", None, "b"] * 30, MIXED * 3],
    ids=["numbers", "numbers-none", "strings-none", "mixed"],
)
def test_add_values_equals_add_value_one_by_one(kind: str, values: list[Any]) -> None:
    f = FeatureState("x", kind, None, 100)
    f.add_values(tuple(values))
    assert _snapshot(f) == _per_value(kind, values)


def test_string_column_counts_equal_numpy_unique() -> None:
    rng = np.random.default_rng(1)
    words = np.array([f"w{i}" for i in range(60)])
    arr = words[rng.integers(0, 60, 5000)]
    f = FeatureState("x", CATEGORICAL, None, 10)  # cap: kept categories depend on the order
    f.add_column(arr)
    values, counts = np.unique(arr, return_counts=True)
    ref = FeatureState("x", CATEGORICAL, None, 10)
    ref.add_labels(dict(zip(values.tolist(), counts.tolist(), strict=True)))
    assert _snapshot(f) == _snapshot(ref)


@pytest.mark.parametrize(
    "labels",
    [
        ["b", "a", "b", "c"] * 10,
        [1, 1.0, True, "1", np.int64(2)] * 5,
        ["a\x00", "a", "b"],
    ],
    ids=["strings", "numbers-equal-hash", "trailing-nul"],
)
def test_label_counts_equal_astype_str_unique(labels: list[Any]) -> None:
    arr = _object_array(labels)
    values, counts = np.unique(arr.astype(str), return_counts=True)
    expected = {str(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)}
    got = aggregate._label_counts(arr)
    assert got == expected
    assert list(got) == list(expected)  # same order: matters once the category cap is hit


def test_unconvertible_labels_fail_as_numpy_does() -> None:
    # The guard counts the error either way; the fast path must not hide it either.
    arr = _object_array([[1], "a"])
    with pytest.raises(ValueError, match="sequence"):
        arr.astype(str)
    with pytest.raises(ValueError, match="sequence"):
        aggregate._label_counts(arr)


def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    """Rows of a typical feature dict, with every kind of unusual value now and then."""
    rng = np.random.default_rng(seed)
    odd: list[Any] = [None, float("nan"), math.inf, "oops", True, np.float32(1.5), np.int64(3)]
    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "amount": float(rng.gamma(2.0)),
            "count": int(rng.integers(0, 9)),
            "country": str(rng.choice(["US", "DE", "FR", "GB", "IN", "BR"])),
            "late": None if i < 5 else float(rng.normal()),  # kind unknown at first
        }
        if rng.random() < 0.1:
            row[str(rng.choice(["amount", "count", "country", "late"]))] = odd[i % len(odd)]
        if i % 7 == 0:
            row = {k: row[k] for k in ("country", "amount", "late", "count")}  # another key order
        if i % 11 == 0:
            row["extra"] = "e" if i % 2 else 2.0
        rows.append(row)
    return rows


def _run(rows: list[dict[str, Any]], *, buffered: bool, cap: int) -> dict[str, SegmentState]:
    old = aggregate.MAX_SCHEMAS
    aggregate.MAX_SCHEMAS = old if buffered else 0  # 0: every row value by value
    try:
        agg = ModelAggregator("m", "1", "p", edges={"amount": [0.5, 1.0, 2.0, 4.0]},
                              max_categories=cap, max_features=4)  # fmt: skip
        for i, row in enumerate(rows):
            agg.record_row(row, ("", "seg"), 0.1 * i, "yes" if i % 3 else "no", 0.001)
            if i == 300:
                batch = {"amount": np.array([1.0, np.nan]), "country": np.array(["XX", "US"])}
                agg.record_columns(batch, 2, "", None, None, None)
        return agg.collect()
    finally:
        aggregate.MAX_SCHEMAS = old


def _series(segments: dict[str, SegmentState]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, s in segments.items():
        out[name] = {
            "rows": s.rows,
            "features": {f.name: _snapshot(f) for f in s.unique_features()},
            "values": _snapshot(s.values) if s.values is not None else None,
            "labels": _snapshot(s.labels) if s.labels is not None else None,
            "duration": None if s.duration is None else s.duration.counts.tolist(),
        }
    return out


@pytest.mark.parametrize("cap", [100, 3])
def test_buffered_rows_count_like_value_by_value(cap: int) -> None:
    rows = _rows(3 * aggregate.FOLD_AT + 17, seed=cap)
    fast = _series(_run(rows, buffered=True, cap=cap))
    slow = _series(_run(rows, buffered=False, cap=cap))
    assert fast == slow
    assert fast[""]["rows"] == len(rows) + 2
    assert "__overflow__" in fast[""]["features"]  # max_features=4: "extra" overflowed


def test_buffered_rows_hold_no_reference_to_the_callers_dict() -> None:
    agg = ModelAggregator("m", "1", "p")
    row: dict[str, Any] = {"a": 1.0, "b": 2.0}
    for _ in range(3):
        agg.record_row(row, ("",), None, None, 0.0)
    row["a"] = "changed after the call"  # reused dicts are common in loops
    [seg] = agg.collect().values()
    f = seg.features["a"]
    f.fold()
    assert f.mismatch == 0
    assert f.hist is not None
    assert f.hist.count == 3


def _one(row: Any) -> float:
    return 1.0


@pytest.mark.parametrize("plans", [True, False])
def test_span_feature_attributes_same_with_and_without_plans(
    plans: bool, telemetry: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not plans:
        monkeypatch.setattr(_span_attributes, "_MAX_SPAN_PLANS", 0)
    f = oi.observe(model="sp", span_features=True, mask_features=["secret"])(_one)
    g = oi.observe(model="sp2", span_features=["a", "c"])(_one)
    f({"a": 1.0, "b": 2, "c": True})
    f({"a": 1.0, "b": None, "c": "x" * 400})
    f({"a": 1.0, "secret": 7.0})
    g({"a": 1.0, "b": 2.0, "c": 3})
    g({"a": None, "b": 2.0, "c": 3})
    spans = telemetry.spans()
    feats = [{k: v for k, v in s.attributes.items() if k.startswith("ml.features.")} for s in spans]
    assert feats == [
        {"ml.features.a": 1.0, "ml.features.b": 2, "ml.features.c": True},
        {"ml.features.a": 1.0, "ml.features.c": "x" * 256},
        {"ml.features.a": 1.0, "ml.features.secret": "__REDACTED__"},
        {"ml.features.a": 1.0, "ml.features.c": 3},
        {"ml.features.c": 3},
    ]
    # Identity attributes stay last (the SDK drops the oldest attribute beyond its limit).
    assert list(spans[0].attributes)[-1] == "ml.model.name"
