"""Baseline builder against numpy references, and the baseline's exact JSON round trip."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otelml.semconv import OTHER_CATEGORY
from otelml.stats._reservoir import Reservoir
from otelml.stats.baseline import (
    SCHEMA_VERSION,
    Baseline,
    BaselineFormatError,
    FeatureBaseline,
)
from otelml.stats.baseline_builder import BaselineBuilder, quantile_rank_error

# The default grid: cosine-spaced levels, denser in the tails (see quantile_grid).
PROBS = (1 - np.cos(np.pi * np.arange(1, 10) / 10)) / 2


def _build(chunks, **kw):
    b = BaselineBuilder(**kw)
    for c in chunks:
        b.update(c)
    if b.needs_second_pass:
        for c in chunks:
            b.count(c)
    return b.freeze(model="m", version="1", created_at="2025-01-01T00:00:00+00:00")


def _reference_counts(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    # Upper-inclusive bins written independently of searchsorted: (e_{i-1}, e_i].
    bounds = np.concatenate([[-np.inf], edges, [np.inf]])
    return np.array([np.sum((x > lo) & (x <= hi)) for lo, hi in itertools.pairwise(bounds)])


def test_numeric_edges_and_counts_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 3.0, 20_001)
    fb = _build([{"x": x}]).features["x"]
    want = np.unique(
        np.concatenate([[x.min()], np.quantile(x, PROBS, method="inverted_cdf"), [x.max()]])
    )
    assert fb.kind == "numeric"
    assert fb.edges == tuple(want.tolist())
    assert fb.ref_counts == tuple(_reference_counts(x, want).tolist())
    assert fb.ref_counts[-1] == 0  # nothing above the max
    assert fb.ref_counts[0] == 1  # only the min itself in (-inf, min]
    assert fb.min == x.min()
    assert fb.max == x.max()
    assert fb.mean == pytest.approx(np.mean(x), rel=1e-12)
    assert fb.std == pytest.approx(np.std(x), rel=1e-12)
    assert fb.quantile_method == "exact"
    # Every inner bin holds its grid share: an edge closes the bin of its quantile.
    shares = np.array(fb.ref_counts[1:-1]) / len(x)
    np.testing.assert_allclose(shares, np.diff([0, *PROBS, 1]), atol=2 / len(x))
    # Each bin's reference mean, for the binned Wasserstein distance.
    idx = np.searchsorted(want, x, side="left")
    means = [x[idx == i].mean() if np.any(idx == i) else np.nan for i in range(want.size + 1)]
    np.testing.assert_allclose(fb.bin_means, means, rtol=1e-12)


def test_uniform_spacing_gives_deciles_and_old_documents_load():
    rng = np.random.default_rng(3)
    x = rng.normal(size=10_001)
    b = BaselineBuilder(spacing="uniform")
    b.update({"x": x})
    fb = b.freeze(model="m", version="1").features["x"]
    np.testing.assert_allclose(np.array(fb.ref_counts[1:-1]) / x.size, 0.1, atol=2 / x.size)
    d = fb.to_dict()
    del d["bin_means"]  # a document written before bin_means existed
    old = FeatureBaseline.from_dict(d)
    assert old.bin_means == ()
    assert FeatureBaseline.from_dict(fb.to_dict()) == fb
    with pytest.raises(ValueError, match="spacing"):
        BaselineBuilder(spacing="log")


def test_counts_agree_with_np_histogram():
    # np.histogram bins are lower-inclusive [a, b); on -x they become the upper-inclusive
    # (e_{i-1}, e_i] of x, an independent implementation of the contract's convention.
    rng = np.random.default_rng(1)
    x = np.round(rng.normal(size=5000), 2)  # ties on the edges, as with real data
    fb = _build([{"x": x}]).features["x"]
    edges = np.array(fb.edges)
    hist, _ = np.histogram(-x, bins=-edges[::-1])
    inner = hist[::-1].copy()
    inner[0] -= np.sum(x == edges[0])  # np.histogram's last bin is closed on both sides
    counts = np.array(fb.ref_counts)
    np.testing.assert_array_equal(counts[1:-1], inner)
    assert counts[0] == np.sum(x <= edges[0])
    assert counts.sum() == len(x)


def test_discrete_feature_dedupes_edges():
    x = np.array([1] * 50 + [2] * 30 + [3] * 20)
    fb = _build([{"x": x}]).features["x"]
    assert fb.edges == (1.0, 2.0, 3.0)
    assert fb.ref_counts == (50, 30, 20, 0)


def test_constant_feature_gets_single_edge():
    fb = _build([{"x": np.full(100, 7.5)}]).features["x"]
    assert fb.edges == (7.5,)
    assert fb.ref_counts == (100, 0)
    assert fb.std == 0.0


def test_all_missing_and_nan_columns():
    n = 10
    cols = {
        "gone": np.ma.MaskedArray(np.zeros(n), mask=np.ones(n, bool)),
        "nan": np.full(n, np.nan),
        "cat": np.array([None] * n, dtype=object),
    }
    bl = _build([cols], kinds={"cat": "categorical"})
    gone, nan, cat = bl.features["gone"], bl.features["nan"], bl.features["cat"]
    assert gone.missing_rate == 1.0
    assert gone.edges == ()
    assert gone.ref_counts == (0,)
    assert math.isnan(gone.min)
    assert nan.nan_rate == 1.0
    assert nan.missing_rate == 0.0
    assert cat.missing_rate == 1.0
    assert cat.categories == {}
    # NaN-valued baselines still round-trip and compare equal.
    assert Baseline.from_json(bl.to_json()) == bl


def test_rates_missing_nan_inf():
    x = np.ma.MaskedArray(
        [1.0, np.nan, np.inf, -np.inf, 2.0, 3.0, 0.0, 0.0], mask=[0, 0, 0, 0, 0, 0, 1, 1]
    )
    fb = _build([{"x": x}]).features["x"]
    assert fb.count == 8
    assert fb.missing_rate == 2 / 8
    assert fb.nan_rate == 1 / 8
    assert fb.inf_rate == 2 / 8
    assert sum(fb.ref_counts) == 3
    assert (fb.min, fb.max) == (1.0, 3.0)


def test_kinds_inferred_and_overridden():
    n = 6
    cols = {
        "f": np.linspace(0, 1, n),
        "i": np.arange(n),
        "s": np.array(list("abcabc")),
        "o": np.array(["x", None, "y", "x", "y", "x"], dtype=object),
        "b": np.array([True, False] * 3),
        "code": np.array([10, 20, 10, 20, 30, 10]),
    }
    bl = _build([cols], kinds={"code": "categorical", "b": "numeric"})
    kinds = {k: v.kind for k, v in bl.features.items()}
    assert kinds == {
        "f": "numeric",
        "i": "numeric",
        "s": "categorical",
        "o": "categorical",
        "b": "numeric",
        "code": "categorical",
    }
    assert bl.features["code"].categories == {"10": 3, "20": 2, "30": 1}
    assert bl.features["o"].categories == {"x": 3, "y": 2}
    assert bl.features["o"].missing_rate == 1 / 6
    assert bl.features["b"].edges == (0.0, 1.0)


def test_chunked_equals_one_shot():
    rng = np.random.default_rng(2)
    n = 3001
    cols = {
        "x": rng.normal(size=n),
        "k": rng.integers(0, 5, n),
        "c": rng.choice(np.array(["a", "b", "c", "d"]), n),
    }
    whole = _build([cols])
    chunks = [{k: v[i : i + 97] for k, v in cols.items()} for i in range(0, n, 97)]
    parts = _build(chunks)
    for name in cols:
        a, b = whole.features[name], parts.features[name]
        assert (a.edges, a.ref_counts, a.categories) == (b.edges, b.ref_counts, b.categories)
        assert (a.min, a.max, a.count) == (b.min, b.max, b.count)
        if a.kind == "numeric":
            assert a.mean == pytest.approx(b.mean, rel=1e-12, abs=1e-15)
            assert a.std == pytest.approx(b.std, rel=1e-12)


def test_merged_builders_equal_one_builder():
    rng = np.random.default_rng(3)
    a = {"x": rng.normal(size=500), "c": rng.choice(np.array(["u", "v"]), 500)}
    b = {"x": rng.normal(size=700), "c": rng.choice(np.array(["u", "w"]), 700)}
    one = _build([a, b])
    left, right = BaselineBuilder(), BaselineBuilder()
    left.update(a)
    right.update(b)
    merged = left.merge(right).freeze(model="m", version="1", created_at=one.created_at)
    assert merged.features["c"] == one.features["c"]
    assert merged.features["x"].ref_counts == one.features["x"].ref_counts
    assert merged.features["x"].edges == one.features["x"].edges


def test_sampled_quantiles_within_stated_error_and_exact_counts():
    rng = np.random.default_rng(4)
    x = rng.lognormal(size=200_000)
    chunks = [{"x": x[i : i + 10_000]} for i in range(0, len(x), 10_000)]
    cap = 20_000
    b = BaselineBuilder(max_exact=cap)
    for c in chunks:
        b.update(c)
    assert b.needs_second_pass
    with pytest.raises(ValueError, match="second pass"):
        b.freeze(model="m", version="1")
    for c in chunks:
        b.count(c)
    fb = b.freeze(model="m", version="1").features["x"]
    eps = quantile_rank_error(cap)
    assert fb.quantile_method == "sample"
    assert fb.quantile_rank_error == eps
    edges = np.array(fb.edges)
    ranks = np.searchsorted(np.sort(x), edges[1:-1], side="right") / len(x)
    assert np.all(np.abs(ranks - PROBS) <= eps), (ranks, eps)
    assert fb.ref_counts == tuple(_reference_counts(x, edges).tolist())
    assert (fb.min, fb.max) == (x.min(), x.max())


def test_reservoir_is_uniform():
    # Each of 1,000 positions should be kept with probability k/n = 0.1; over 1,000 seeded
    # runs the counts are Binomial(1000, 0.1): mean 100, sd 9.5. Bound at 6 sd.
    hits = np.zeros(1000)
    rng = np.random.default_rng(5)
    for _ in range(1000):
        r = Reservoir(100, (np.float64,), rng)
        for start in range(0, 1000, 128):
            r.update(np.arange(start, min(start + 128, 1000), dtype=np.float64))
        hits[r.values().astype(int)] += 1
    assert np.abs(hits - 100).max() < 6 * math.sqrt(1000 * 0.1 * 0.9)


def test_categories_capped_deterministically():
    values = np.array([f"c{i}" for i in range(8) for _ in range(10 - i)])
    rng = np.random.default_rng(6)
    shuffled = rng.permutation(values)
    a = _build([{"c": values}], category_cap=3).features["c"]
    b = _build([{"c": shuffled[:20]}, {"c": shuffled[20:]}], category_cap=3).features["c"]
    assert a.categories == {"c0": 10, "c1": 9, "c2": 8, OTHER_CATEGORY: 7 + 6 + 5 + 4 + 3}
    assert b.categories == a.categories


def test_prediction_label_and_reference_scores():
    rng = np.random.default_rng(7)
    n = 300
    cols = {"x": rng.normal(size=n), "p": rng.random(n), "y": rng.choice(np.array(["a", "b"]), n)}
    bl = _build([cols], prediction="p", label="y", max_reference_scores=50)
    assert list(bl.features) == ["x"]
    assert bl.prediction is not None
    assert bl.prediction.kind == "numeric"
    assert bl.label is not None
    assert bl.label.kind == "categorical"
    rs = bl.reference_scores
    assert rs is not None
    assert len(rs["scores"]) == len(rs["labels"]) == 50
    pairs = set(zip(cols["p"].tolist(), cols["y"].tolist(), strict=True))
    assert all((s, lab) in pairs for s, lab in zip(rs["scores"], rs["labels"], strict=True))
    assert Baseline.from_json(bl.to_json()) == bl


def test_importances_and_errors():
    cols = {"x": np.arange(10.0), "y": np.arange(10.0)}
    b = BaselineBuilder()
    b.update(cols)
    bl = b.freeze(model="m", version="1", importances={"x": 0.7})
    assert bl.features["x"].importance == 0.7
    assert bl.features["y"].importance is None
    with pytest.raises(ValueError, match="unknown features"):
        b.freeze(model="m", version="1", importances={"nope": 1.0})
    with pytest.raises(ValueError, match="not found"):
        BaselineBuilder(features=["z"]).update(cols)
    with pytest.raises(ValueError, match="different lengths"):
        BaselineBuilder().update({"x": np.arange(3), "y": np.arange(4)})
    with pytest.raises(ValueError, match="bins"):
        BaselineBuilder(bins=0)
    with pytest.raises(ValueError, match="declared numeric"):
        BaselineBuilder(kinds={"s": "numeric"}).update({"s": np.array(["a"], dtype=object)})
    with pytest.raises(ValueError, match="no data"):
        BaselineBuilder().freeze(model="m", version="1")


def test_feature_baseline_validation_and_new_sketch():
    with pytest.raises(ValueError, match="strictly increasing"):
        FeatureBaseline("x", "numeric", edges=(1.0, 1.0), ref_counts=(0, 0, 0))
    with pytest.raises(ValueError, match="ref_counts"):
        FeatureBaseline("x", "numeric", edges=(1.0,), ref_counts=(0,))
    with pytest.raises(ValueError, match="kind"):
        FeatureBaseline("x", "ordinal")  # type: ignore[arg-type]
    fb = FeatureBaseline("x", "numeric", edges=(0.0, 1.0), ref_counts=(1, 2, 3))
    sketch = fb.new_sketch()
    sketch.update_many(np.array([-1.0, 0.5, 0.7, 2.0]))
    np.testing.assert_array_equal(sketch.counts, [1, 2, 1])
    cat = FeatureBaseline("c", "categorical", categories={"a": 2}).new_sketch()
    cat.update_many(np.array(["a", "b"]))
    assert cat.counts == {"a": 1, "b": 1}


# -- JSON ------------------------------------------------------------------------------------

_floats = st.floats(allow_nan=True, allow_infinity=True)
_finite = st.floats(allow_nan=False, allow_infinity=False)
_rates = st.floats(0.0, 1.0)


@st.composite
def feature_baselines(draw, name: str) -> FeatureBaseline:
    if draw(st.booleans()):
        edges = sorted(set(draw(st.lists(_finite, max_size=12))))
        edges = [e for i, e in enumerate(edges) if i == 0 or e != edges[i - 1]]
        counts = draw(
            st.lists(st.integers(0, 2**62), min_size=len(edges) + 1, max_size=len(edges) + 1)
        )
        return FeatureBaseline(
            name,
            "numeric",
            edges=tuple(edges),
            ref_counts=tuple(counts),
            min=draw(_floats),
            max=draw(_floats),
            mean=draw(_floats),
            std=draw(_floats),
            count=draw(st.integers(0, 2**62)),
            missing_rate=draw(_rates),
            nan_rate=draw(_rates),
            inf_rate=draw(_rates),
            importance=draw(st.none() | _finite),
            quantile_method=draw(st.sampled_from(["exact", "sample"])),
            quantile_rank_error=draw(_rates),
        )
    cats = draw(st.dictionaries(st.text(max_size=8), st.integers(0, 2**62), max_size=6))
    return FeatureBaseline(
        name,
        "categorical",
        categories=cats,
        count=draw(st.integers(0, 2**62)),
        missing_rate=draw(_rates),
    )


@st.composite
def baselines(draw) -> Baseline:
    names = draw(st.lists(st.text(min_size=1, max_size=10), unique=True, max_size=5))
    feats = {n: draw(feature_baselines(n)) for n in names}
    scores = None
    if draw(st.booleans()):
        k = draw(st.integers(0, 5))
        scores = {
            "scores": draw(st.lists(_finite, min_size=k, max_size=k)),
            "labels": draw(st.lists(st.sampled_from(["a", "b"]) | _finite, min_size=k, max_size=k)),
        }
    return Baseline(
        model=draw(st.text(max_size=10)),
        version=draw(st.text(max_size=5)),
        features=feats,
        prediction=draw(st.none() | feature_baselines("pred")),
        label=draw(st.none() | feature_baselines("label")),
        reference_scores=scores,
        performance=draw(st.none() | st.dictionaries(st.text(max_size=5), _floats, max_size=3)),
        created_at=draw(st.text(max_size=25)),
    )


@settings(max_examples=100, deadline=None)
@given(baselines())
def test_json_round_trip_is_exact(bl: Baseline):
    text = bl.to_json()
    back = Baseline.from_json(text)
    assert back == bl
    assert back.to_json() == text
    for name, fb in bl.features.items():
        # bit-exact floats, not merely close ones
        assert [e.hex() for e in back.features[name].edges] == [e.hex() for e in fb.edges]
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


def _doc() -> dict:
    fb = FeatureBaseline("x", "numeric", edges=(0.1,), ref_counts=(1, 2))
    return json.loads(Baseline(model="m", version="1", features={"x": fb}).to_json())


def test_schema_version_and_format_errors():
    d = _doc()
    assert d["schema_version"] == SCHEMA_VERSION
    d["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(BaselineFormatError, match="schema_version 2 is not supported"):
        Baseline.from_dict(d)
    d = _doc()
    del d["schema_version"]
    with pytest.raises(BaselineFormatError, match="schema_version None"):
        Baseline.from_dict(d)
    d = _doc()
    d["format"] = "something"
    with pytest.raises(BaselineFormatError, match="not an otelml baseline"):
        Baseline.from_dict(d)
    d = _doc()
    d["features"]["x"]["edges"] = ["oops"]
    with pytest.raises(BaselineFormatError, match="expected a number"):
        Baseline.from_dict(d)
    d = _doc()
    d["features"]["x"]["ref_counts"] = [1]
    with pytest.raises(BaselineFormatError, match="ref_counts"):
        Baseline.from_dict(d)
    d = _doc()
    del d["features"]["x"]["count"]
    with pytest.raises(BaselineFormatError, match="missing key 'count'"):
        Baseline.from_dict(d)
    with pytest.raises(BaselineFormatError, match="not valid JSON"):
        Baseline.from_json("{")
    with pytest.raises(BaselineFormatError, match="expected an object"):
        Baseline.from_json("[1]")
