"""One conformance suite run against every mergeable sketch (River-style laws).

Integer fields (counts, scales, offsets) must agree exactly; float fields (sums, means, m2)
to a relative 1e-9 / absolute 1e-6, because float addition is not associative.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otelml.stats.categorical import CategoryCounts
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram
from otelml.stats.moments import Moments

from .strategies import category_batches, numeric_batches, wide_batches

SETTINGS = settings(max_examples=25, deadline=None)


@dataclass(frozen=True)
class Factory:
    """How to make an empty sketch of one kind and which batches to feed it."""

    name: str
    new: Callable[[], Any]
    batches: st.SearchStrategy[list[Any]]
    cls: type


FACTORIES = [
    Factory(
        "fixed",
        lambda: FixedHistogram([-10.0, 0.0, 1.0, 2.5, 1e3]),
        numeric_batches,
        FixedHistogram,
    ),
    Factory(
        "fixed_many_edges", lambda: FixedHistogram(range(-50, 50)), numeric_batches, FixedHistogram
    ),
    Factory("exponential", ExponentialHistogram, wide_batches, ExponentialHistogram),
    Factory(
        "exponential_small",
        lambda: ExponentialHistogram(max_size=4),
        wide_batches,
        ExponentialHistogram,
    ),
    # A cap above the alphabet size: the regime in which category counts are exact.
    Factory("categorical", lambda: CategoryCounts(cap=20), category_batches, CategoryCounts),
    Factory("moments", Moments, numeric_batches, Moments),
]


def built(f: Factory, xs: Sequence[Any]) -> Any:
    s = f.new()
    s.update_many(xs)
    return s


def assert_close(a: Any, b: Any, path: str = "") -> None:
    """Compare two to_dict() trees: ints and strings exactly, floats approximately."""
    if isinstance(a, dict):
        assert isinstance(b, dict), path
        assert a.keys() == b.keys(), path
        for k in a:
            assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list), path
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, str):
        assert isinstance(b, float), path
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


factories = pytest.mark.parametrize("f", FACTORIES, ids=[f.name for f in FACTORIES])


@factories
@SETTINGS
@given(data=st.data())
def test_merge_commutative(f: Factory, data: st.DataObject) -> None:
    a, b = built(f, data.draw(f.batches)), built(f, data.draw(f.batches))
    assert_close((a + b).to_dict(), (b + a).to_dict())


@factories
@SETTINGS
@given(data=st.data())
def test_merge_associative(f: Factory, data: st.DataObject) -> None:
    a, b, c = (built(f, data.draw(f.batches)) for _ in range(3))
    assert_close(((a + b) + c).to_dict(), (a + (b + c)).to_dict())


@factories
@SETTINGS
@given(data=st.data())
def test_merge_equals_sequential_update(f: Factory, data: st.DataObject) -> None:
    xs, ys = data.draw(f.batches), data.draw(f.batches)
    assert_close(built(f, xs).merge(built(f, ys)).to_dict(), built(f, xs + ys).to_dict())


@factories
@SETTINGS
@given(data=st.data())
def test_update_many_equals_loop_of_update(f: Factory, data: st.DataObject) -> None:
    xs = data.draw(f.batches)
    looped = f.new()
    for x in xs:
        looped.update(x)
    assert_close(looped.to_dict(), built(f, xs).to_dict())


@factories
@SETTINGS
@given(data=st.data())
def test_round_trip_exact_also_through_json(f: Factory, data: st.DataObject) -> None:
    s = built(f, data.draw(f.batches))
    d = s.to_dict()
    assert d["format"] == 1
    assert f.cls.from_dict(d) == s
    text = json.dumps(d, allow_nan=False)  # strict JSON: no NaN/Infinity literals
    again = f.cls.from_dict(json.loads(text))
    assert again == s
    assert again.to_dict() == d


@factories
@SETTINGS
@given(data=st.data())
def test_merge_with_empty_is_identity_and_inputs_untouched(f: Factory, data: st.DataObject) -> None:
    s = built(f, data.draw(f.batches))
    before = s.to_dict()
    empty = f.new()
    assert s + empty == s
    assert empty + s == s
    assert s.to_dict() == before
    assert empty == f.new()


@factories
@SETTINGS
@given(data=st.data())
def test_copy_is_independent(f: Factory, data: st.DataObject) -> None:
    s = built(f, data.draw(f.batches))
    c = s.copy()
    assert c == s
    extra = data.draw(f.batches.filter(bool))
    c.update_many(extra)
    assert s == s.copy()
    assert c.count >= s.count


@factories
def test_empty_state(f: Factory) -> None:
    s = f.new()
    assert s.count == 0
    assert f.cls.from_dict(s.to_dict()) == s
    s.update_many([])
    assert s == f.new()


@factories
@pytest.mark.parametrize(
    ("change", "field"),
    [({"format": 2}, "format"), ({"format": "1"}, "format"), ({"type": "nope"}, "type")],
)
def test_from_dict_rejects_unknown_format_and_type(
    f: Factory, change: dict[str, Any], field: str
) -> None:
    d = {**f.new().to_dict(), **change}
    with pytest.raises(ValueError, match=field):
        f.cls.from_dict(d)


@factories
def test_from_dict_names_a_missing_field(f: Factory) -> None:
    d = f.new().to_dict()
    victim = next(k for k in d if k not in ("format", "type"))
    del d[victim]
    with pytest.raises(ValueError, match=victim):
        f.cls.from_dict(d)


@factories
def test_merge_rejects_other_kinds(f: Factory) -> None:
    other = Moments() if f.cls is not Moments else CategoryCounts()
    with pytest.raises(TypeError):
        f.new().merge(other)
