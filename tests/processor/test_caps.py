"""Caps on what a sender's strings create: models (aggregator, join), baselines, categories."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from otelml import semconv
from otelml.processor.config import ProcessorConfig
from otelml.processor.evaluate.baselines import BaselineLimitError, BaselineRegistry
from otelml.processor.evaluate.evaluator import Evaluator
from otelml.processor.export.prometheus import overflow_counts
from otelml.processor.state.aggregator import Aggregator, FeatureWindow, Limits, SeriesKey, Update
from otelml.processor.state.context import ProcessorContext
from otelml.processor.telemetry import ProcessorTelemetry
from otelml.stats.baseline import Baseline
from otelml.stats.categorical import CategoryCounts

from .joindata import config, open_joins, prediction

T = 1_700_000_000.0


class Counter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, limit: str, n: int) -> None:
        self.counts[limit] = self.counts.get(limit, 0) + n


def _cats(*names: str) -> FeatureWindow:
    c = CategoryCounts(cap=100)
    c.update_counts(dict.fromkeys(names, 1))
    return FeatureWindow(categories=c, rows=len(names))


def _row(model: str, t: float = T) -> Update:
    return Update(SeriesKey(model, "1", "production", "f", ""), int(t), _cats("a"))


# -- categories (item: the documented category-overflow counter) ---------------------------------


def test_categories_beyond_the_cap_are_counted_as_overflow() -> None:
    hook = Counter()
    agg = Aggregator(60, limits=Limits(), on_overflow=hook, clock=lambda: T)
    key = SeriesKey("m", "1", "production", "city", "")
    ws = int(T)
    agg.apply([Update(key, ws, _cats(*(f"c{i}" for i in range(100))))])
    assert hook.counts == {}
    agg.apply([Update(key, ws, _cats("new1", "new2", "c0"))])  # two new ones over the cap
    assert hook.counts == {"categories": 2}
    [w] = agg.window(model="m").values()
    assert w.categories.counts[semconv.OTHER_CATEGORY] == 2


# -- the aggregator's models --------------------------------------------------------------------


def test_a_model_with_a_baseline_is_admitted_when_junk_fills_every_slot() -> None:
    hook = Counter()
    now = [T]
    agg = Aggregator(60, limits=Limits(max_models=5), on_overflow=hook, clock=lambda: now[0])
    agg.has_baseline = lambda model: model == "fraud"
    agg.apply([_row(f"junk{i}") for i in range(500)])
    assert len(agg.models()) == 5
    assert hook.counts == {"models": 495}
    agg.apply([_row("fraud")])
    assert "fraud" in {m for m, _, _ in agg.models()}


def test_idle_junk_without_a_baseline_is_evicted_for_a_new_model() -> None:
    hook = Counter()
    now = [T]
    agg = Aggregator(
        60,
        limits=Limits(max_models=3, model_idle_s=3600),
        on_overflow=hook,
        clock=lambda: now[0],
    )
    agg.has_baseline = lambda model: model == "kept"
    agg.apply([_row("kept"), _row("junk0"), _row("junk1")])
    now[0] = T + 600
    agg.apply([_row("junk1", now[0])])
    agg.apply([_row("new", now[0])])  # nothing idle yet: refused
    assert "new" not in {m for m, _, _ in agg.models()}
    assert hook.counts == {"models": 1}
    now[0] = T + 7200  # junk0 idle for two hours, junk1 for 1h50, kept has a baseline
    agg.apply([_row("new", now[0])])
    models = {m for m, _, _ in agg.models()}
    assert models == {"kept", "junk1", "new"}
    assert hook.counts == {"models": 1, "models_evicted": 1}


def test_limits_options_are_validated() -> None:
    cfg = ProcessorConfig()
    bad = dataclasses.replace(
        cfg,
        limits=dataclasses.replace(cfg.limits, max_baselines=0, max_baseline_versions=-1),
        joins=dataclasses.replace(cfg.joins, max_models=0),
    )
    errors = "\n".join(bad.validate())
    for path in ("limits.max_baselines", "limits.max_baseline_versions", "joins.max_models"):
        assert f"{path}: must be > 0" in errors


# -- the join's models ------------------------------------------------------------------------


def test_the_join_caps_models_and_admits_known_ones(tmp_path: Path) -> None:
    cfg = config(joins={"max_models": 3})
    j = open_joins(tmp_path / "otelml.db", cfg, clock=lambda: T)
    j.known_model = lambda model: model == "fraud"
    try:
        j.apply([prediction(f"p{i}", T, model=f"junk{i}", value=0.5) for i in range(30)])
        assert len(j.models()) == 3
        assert j.overflow() == {"join_models": 27}
        assert j.rejected()[(semconv.PREDICTION_EVENT, "too_many_models")] == 27
        j.apply([prediction("p", T, model="fraud", value=0.5)])
        j.apply([prediction("q", T, model="junk1", value=0.5)])  # already admitted
        assert j.models() == {"junk0", "junk1", "junk2", "fraud"}
    finally:
        j.close()
    j = open_joins(tmp_path / "otelml.db", cfg, clock=lambda: T)
    try:  # the cap holds after a restart
        j.apply([prediction("p", T, model="junk99", value=0.5)])
        assert "junk99" not in j.models()
    finally:
        j.close()


# -- baselines ------------------------------------------------------------------------------


def _baseline(model: str, version: str) -> Baseline:
    return Baseline(model=model, version=version, features={})


def test_baselines_and_versions_are_capped(tmp_path: Path) -> None:
    reg = BaselineRegistry(tmp_path / "b.db", max_baselines=10, max_versions=3)
    try:
        for v in range(3):
            reg.put(_baseline("m", str(v)))
        with pytest.raises(BaselineLimitError, match="versions"):
            reg.put(_baseline("m", "3"))
        reg.put(_baseline("m", "2"))  # replacing one is always allowed
        for i in range(7):
            reg.put(_baseline(f"x{i}", "1"))
        with pytest.raises(BaselineLimitError, match="baselines"):
            reg.put(_baseline("y", "1"))
        assert len(reg.list()) == 10
        assert reg.overflow() == {"baseline_versions": 1, "baselines": 1}
        assert reg.has_model("x0")
        assert not reg.has_model("y")
    finally:
        reg.close()


def test_the_evaluator_shares_the_caps_and_overflow_is_exported(tmp_path: Path) -> None:
    cfg = config(limits={"max_baselines": 2, "max_baseline_versions": 1})
    tel = ProcessorTelemetry()
    agg = Aggregator(60, limits=Limits(max_models=1), on_overflow=tel.overflow, clock=lambda: T)
    reg = BaselineRegistry(tmp_path / "b.db")
    try:
        ev = Evaluator(agg, reg, config=cfg, telemetry=tel, clock=lambda: T)
        assert ev.registry.max_baselines == 2
        reg.put(_baseline("fraud", "1"))
        with pytest.raises(BaselineLimitError):
            reg.put(_baseline("fraud", "2"))
        agg.apply([_row("junk"), _row("fraud")])
        assert {m for m, _, _ in agg.models()} == {"junk", "fraud"}
        ctx = ProcessorContext(cfg, agg, tel, tmp_path / "b.db", registry=reg)
        assert overflow_counts(ctx) == {"baseline_versions": 1}
        agg.apply([_row("junk2")])
        assert overflow_counts(ctx) == {"baseline_versions": 1, "models": 1}
    finally:
        reg.close()
