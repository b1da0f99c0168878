"""BaselineRegistry: storage, version fallback, deletion, upload validation, directory, freeze."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from otelml.processor.evaluate import freeze
from otelml.processor.evaluate.baselines import BaselineRegistry, parse_baseline, version_key
from otelml.processor.state.aggregator import PREDICTION_FEATURE, FeatureWindow, SeriesKey
from otelml.stats.baseline import BaselineFormatError
from otelml.stats.exponential import ExponentialHistogram
from otelml.stats.histogram import FixedHistogram

from .evaldata import make_baseline


@pytest.fixture
def registry(tmp_path: Path) -> BaselineRegistry:
    reg = BaselineRegistry(tmp_path / "state.db", clock=lambda: 1000.0)
    yield reg
    reg.close()


def test_version_order_is_semantic_where_parseable() -> None:
    versions = ["1.10.0", "1.2.0", "v1.9.2", "2.0.0-rc1", "2.0.0", "1.2", "0.9"]
    ordered = sorted(versions, key=version_key)
    # 1.2 and 1.2.0 are equal in order (a stable sort keeps their input order)
    assert ordered == ["0.9", "1.2.0", "1.2", "v1.9.2", "1.10.0", "2.0.0-rc1", "2.0.0"]
    assert version_key("1.2") == version_key("1.2.0")
    # Non-semantic versions sort naturally: digit runs as numbers.
    assert sorted(["build-10", "build-9", "build-100"], key=version_key) == [
        "build-9",
        "build-10",
        "build-100",
    ]


def test_get_own_version(registry: BaselineRegistry) -> None:
    b = make_baseline(version="1.0.0", n=2000)
    registry.put(b)
    entry = registry.get("fraud", "1.0.0")
    assert entry is not None
    assert entry.baseline == b
    assert not entry.fallback
    assert entry.baseline_version == "1.0.0"


def test_fallback_to_newest_earlier_version(registry: BaselineRegistry) -> None:
    for v in ("1.2.0", "1.10.0", "2.0.0"):
        registry.put(make_baseline(version=v, n=500))
    entry = registry.get("fraud", "1.11.3")
    assert entry is not None
    assert entry.fallback
    assert entry.baseline_version == "1.10.0"  # not 1.2.0 (string order would pick it)
    assert registry.get("fraud", "1.0.0") is None  # nothing earlier
    assert registry.get("fraud", "1.11.3", fallback=False) is None
    assert registry.get("other", "9.0.0") is None


def test_delete_then_fallback(registry: BaselineRegistry) -> None:
    registry.put(make_baseline(version="1.0.0", n=500))
    registry.put(make_baseline(version="2.0.0", n=500))
    assert registry.delete("fraud", "2.0.0")
    assert not registry.delete("fraud", "2.0.0")
    entry = registry.get("fraud", "2.0.0")
    assert entry is not None
    assert entry.fallback
    assert entry.baseline_version == "1.0.0"


def test_persists_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    reg = BaselineRegistry(path)
    b = make_baseline(n=500)
    reg.put(b, source="file")
    reg.close()
    again = BaselineRegistry(path)
    try:
        entry = again.get("fraud", "1.0.0")
        assert entry is not None
        assert entry.baseline == b
        assert [i.source for i in again.list()] == ["file"]
    finally:
        again.close()


def test_put_under_another_version_rewrites_it(registry: BaselineRegistry) -> None:
    registry.put(make_baseline(n=500), version="3.0.0")
    entry = registry.get("fraud", "3.0.0", fallback=False)
    assert entry is not None
    assert entry.baseline.version == "3.0.0"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "expected an object"),
        (b'{"format": "something-else"}', "not an otelml baseline"),
    ],
)
def test_upload_validation(body: bytes, message: str) -> None:
    with pytest.raises(BaselineFormatError, match=message):
        parse_baseline(body)


def test_upload_validation_names_the_field() -> None:
    d = make_baseline(n=500).to_dict()
    d["features"]["f0"]["ref_counts"] = [1, 2]
    with pytest.raises(BaselineFormatError, match="ref_counts"):
        parse_baseline(json.dumps(d))
    d = make_baseline(n=500).to_dict()
    d["model"] = ""
    with pytest.raises(BaselineFormatError, match="model"):
        parse_baseline(json.dumps(d))


def test_scan_directory(tmp_path: Path, registry: BaselineRegistry) -> None:
    d = tmp_path / "baselines"
    d.mkdir()
    (d / "a.json").write_text(make_baseline(version="1.0.0", n=300).to_json())
    (d / "bad.json").write_text("{oops")
    (d / "ignored.txt").write_text("x")
    assert registry.scan_directory(d) == 1
    assert set(registry.directory_errors) == {"bad.json"}
    assert registry.scan_directory(d) == 0  # unchanged files are not read again
    (d / "b.json").write_text(make_baseline(version="2.0.0", n=300).to_json())
    assert registry.scan_directory(d) == 1
    assert [(i.version, i.source) for i in registry.list()] == [
        ("1.0.0", "directory"),
        ("2.0.0", "directory"),
    ]


async def test_watch_directory_polls(tmp_path: Path, registry: BaselineRegistry) -> None:
    import asyncio

    d = tmp_path / "watched"
    d.mkdir()
    task = asyncio.create_task(registry.watch_directory(d, interval_s=0.01))
    try:
        (d / "a.json").write_text(make_baseline(n=300).to_json())
        for _ in range(500):
            if registry.list():
                break
            await asyncio.sleep(0.01)
        assert [i.model for i in registry.list()] == ["fraud"]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_freeze_from_fixed_windows_keeps_edges_and_counts() -> None:
    rng = np.random.default_rng(3)
    edges = np.array([-1.0, 0.0, 1.0])
    x = rng.normal(size=5000)
    h = FixedHistogram(edges)
    h.update_many(x)
    w = FeatureWindow(numeric=h, missing=50, rows=5050)
    fb = freeze.feature_baseline("x", w)
    assert fb.edges == (-1.0, 0.0, 1.0)
    assert fb.ref_counts == tuple(np.bincount(np.searchsorted(edges, x), minlength=4))
    assert fb.mean == pytest.approx(x.mean(), rel=1e-12)
    assert fb.min == x.min()
    assert fb.max == x.max()
    assert fb.missing_rate == pytest.approx(50 / 5050)
    # std from bin representatives: coarse bins, so only roughly the sample std
    assert fb.std == pytest.approx(x.std(), rel=0.25)


def test_freeze_from_exponential_uses_deciles() -> None:
    rng = np.random.default_rng(4)
    x = rng.lognormal(0.0, 1.0, 20_000)
    h = ExponentialHistogram()
    h.update_many(x)
    fb = freeze.feature_baseline("x", FeatureWindow(numeric=h, rows=x.size))
    want = np.quantile(x, freeze.DECILES)
    # each edge is within one exponential bucket of the true quantile
    base = 2.0 ** (2.0**-h.scale)
    assert np.all(np.abs(np.log(np.asarray(fb.edges) / want)) <= math.log(base) + 1e-12)
    shares = np.asarray(fb.ref_counts) / x.size
    assert shares[0] == pytest.approx(0.1, abs=0.02)
    assert sum(fb.ref_counts) == x.size


def test_baseline_from_windows_prediction_and_importance() -> None:
    prev = make_baseline(n=500)
    f0 = prev.features["f0"]
    h = FixedHistogram(np.asarray(f0.edges))
    h.update_many(np.linspace(-2, 2, 100))
    windows = {
        SeriesKey("fraud", "1.0.0", "validation", "f0"): FeatureWindow(numeric=h, rows=100),
        SeriesKey("fraud", "1.0.0", "validation", PREDICTION_FEATURE): FeatureWindow(
            numeric=h.copy(), rows=100
        ),
        SeriesKey("fraud", "1.0.0", "validation", "f0", "country=US"): FeatureWindow(rows=1),
    }
    b = freeze.baseline_from_windows("fraud", "2.0.0", windows, previous=prev, now=0.0)
    assert b.version == "2.0.0"
    assert set(b.features) == {"f0"}
    assert b.features["f0"].importance == f0.importance
    assert b.prediction is not None
    assert b.prediction.count == 100
    assert b.created_at == "1970-01-01T00:00:00Z"
    with pytest.raises(ValueError, match="no telemetry"):
        freeze.baseline_from_windows("nope", "1", windows)


def test_on_edges_rebins_other_edges_and_projects_exponential() -> None:
    x = np.array([-5.0, -0.5, 0.5, 1.5, 2.5, 9.0])
    a = FixedHistogram(np.array([0.0, 2.0]))
    a.update_many(x)
    e = ExponentialHistogram()
    e.update_many(np.array([0.5, 3.0]))
    out = freeze.on_edges([a, e], np.array([0.0, 2.0]))
    assert out.counts.tolist() == [2 + 0, 2 + 1, 2 + 1]
    other = FixedHistogram(np.array([-1.0, 1.0, 3.0]))
    other.update_many(x)
    re = freeze.on_edges([other], np.array([0.0, 2.0]))
    assert re.count == x.size
    assert dataclasses.is_dataclass(FeatureWindow)
