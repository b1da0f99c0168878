"""Malformed baseline documents: one error type, naming the field, for every one of them."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otelml.processor.evaluate.baselines import parse_baseline
from otelml.stats.baseline import BaselineFormatError


def _good() -> dict[str, Any]:
    return {
        "format": "otelml.baseline",
        "schema_version": 1,
        "model": "m",
        "version": "1",
        "created_at": "2026-01-01T00:00:00Z",
        "features": {
            "age": {
                "name": "age",
                "kind": "numeric",
                "edges": [0.0, 1.0, 2.0],
                "ref_counts": [0, 5, 5, 0],
                "count": 10,
            },
            "city": {"name": "city", "kind": "categorical", "categories": {"a": 3}, "count": 3},
        },
        "prediction": None,
        "label": None,
        "reference_scores": None,
        "performance": None,
    }


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    d = _good()
    node: Any = d
    for k in path[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


_DELETE = object()
AGE = ("features", "age")

MALFORMED: dict[str, tuple[Any, str]] = {
    "a list instead of an object": ([_good()], "baseline"),
    "features a list": (_with(("features",), [1, 2]), "features"),
    "a feature a list": (_with(AGE, [1, 2]), "features['age']"),
    "a feature a string": (_with(AGE, "age"), "features['age']"),
    "missing model": (_with(("model",), _DELETE), "model"),
    "missing kind": (_with((*AGE, "kind"), _DELETE), "features['age']: missing key 'kind'"),
    "missing count": (_with((*AGE, "count"), _DELETE), "features['age']: missing key 'count'"),
    "unknown kind": (_with((*AGE, "kind"), "weird"), "features['age'].kind"),
    "count a string": (_with((*AGE, "count"), "10"), "features['age'].count"),
    "edges a number": (_with((*AGE, "edges"), 3), "features['age'].edges"),
    "edges of strings": (_with((*AGE, "edges"), ["a", "b"]), "features['age'].edges"),
    "negative ref_counts": (_with((*AGE, "ref_counts"), [0, -5, 5, 0]), "features['age']"),
    "non-monotone edges": (_with((*AGE, "edges"), [0.0, 2.0, 1.0]), "features['age']"),
    "NaN edge": (_with((*AGE, "edges"), [0.0, float("nan"), 2.0]), "features['age']"),
    "ref_counts of wrong length": (_with((*AGE, "ref_counts"), [1, 2]), "features['age']"),
    "negative category count": (
        _with(("features", "city", "categories"), {"a": -1}),
        "features['city']",
    ),
    "categories a list": (_with(("features", "city", "categories"), ["a"]), "features['city']"),
    "feature key and name differ": (_with((*AGE, "name"), "other"), "features['age']"),
    "prediction a list": (_with(("prediction",), [1]), "prediction"),
    "performance a list": (_with(("performance",), [0.5]), "performance"),
    "performance not a number": (_with(("performance",), {"auc": "high"}), "performance"),
    "reference_scores a list": (_with(("reference_scores",), [0.1]), "reference_scores"),
    "reference scores not a list": (
        _with(("reference_scores",), {"scores": 1, "labels": []}),
        "reference_scores",
    ),
    "model an object": (_with(("model",), {"a": 1}), "model"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_every_malformed_document_raises_the_format_error_naming_the_field(case: str) -> None:
    doc, field = MALFORMED[case]
    with pytest.raises(BaselineFormatError) as info:
        parse_baseline(json.dumps(doc))
    assert field in str(info.value)


def test_the_good_document_parses() -> None:
    b = parse_baseline(json.dumps(_good()))
    assert set(b.features) == {"age", "city"}


def test_bytes_that_are_not_utf8_and_deep_nesting_are_format_errors() -> None:
    with pytest.raises(BaselineFormatError):
        parse_baseline(b"\xff\xfe{")
    with pytest.raises(BaselineFormatError):
        parse_baseline("[" * 100_000 + "]" * 100_000)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4)
    ),
    max_leaves=20,
)
_KEYS = ["name", "kind", "edges", "ref_counts", "count", "categories", "min", "quantile_method"]


@st.composite
def _mutated(draw: st.DrawFn) -> Any:
    """A valid document with one value somewhere replaced by random JSON (or random JSON)."""
    if draw(st.booleans()):
        return draw(_JSON)
    d = copy.deepcopy(_good())
    where = draw(st.sampled_from(["top", "age", "city"]))
    node = d if where == "top" else d["features"][where]
    keys = list(node) if where == "top" else _KEYS
    node[draw(st.sampled_from(keys))] = draw(_JSON)
    return d


@settings(max_examples=300, deadline=None)
@given(_mutated())
def test_random_json_never_raises_anything_but_the_format_error(doc: Any) -> None:
    with contextlib.suppress(BaselineFormatError):
        parse_baseline(json.dumps(doc))
