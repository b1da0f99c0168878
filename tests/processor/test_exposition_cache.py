"""/metrics: families turned off in export.prometheus are absent; rendered parts are reused."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from otelml.processor.export import prometheus as prom
from otelml.processor.state.context import ProcessorContext

from . import promtext
from .evaldata import (
    close_registries,  # noqa: F401 - autouse fixture
    current_updates,
    make_aggregator,
    make_baseline,
    make_context,
)

BIN_SHARE = {"otelml_feature_bin_share"}
QUALITY = {"otelml_feature_quality_ratio", "otelml_feature_quality_baseline_ratio"}


def _context(tmp_path: Path, **prometheus: bool) -> ProcessorContext:
    baseline = make_baseline(n=5000)
    ups = current_updates(baseline, drifted=("f1", "c0"), minutes=5)
    ups += current_updates(baseline, segment="country=US", minutes=5, seed=2)
    tmp_path.mkdir(parents=True, exist_ok=True)
    ctx = make_context(make_aggregator(ups), tmp_path / "db")
    export = ctx.config.export
    ctx.config = dataclasses.replace(
        ctx.config,
        export=dataclasses.replace(
            export, prometheus=dataclasses.replace(export.prometheus, **prometheus)
        ),
    )
    ctx.registry.put(baseline)
    ctx.evaluator.evaluate()
    return ctx


@pytest.mark.parametrize(
    ("options", "absent"),
    [
        ({"bin_share": False}, BIN_SHARE),
        ({"quality_gauges": False}, QUALITY),
        ({"bin_share": False, "quality_gauges": False}, BIN_SHARE | QUALITY),
    ],
)
def test_families_turned_off_are_absent_and_the_rest_unchanged(
    tmp_path: Path, options: dict[str, bool], absent: set[str]
) -> None:
    full = promtext.parse(prom.exposition(_context(tmp_path / "full")))
    ctx = _context(tmp_path / "off", **options)
    text = prom.exposition(ctx)
    part = promtext.parse(text)
    assert absent <= set(full)
    assert set(part) == set(full) - absent
    for name in part:
        if not name.startswith("otelml_processor_"):  # timings differ between runs
            assert part[name].samples == full[name].samples, name
    assert not any(line.startswith(tuple(absent)) for line in text.splitlines())
    # The OTLP push still carries everything.
    assert absent <= {f.metric.name for f in prom.collect(ctx)}


def test_repeated_scrapes_reuse_the_rendered_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = _context(tmp_path)
    first = prom.exposition(ctx)
    rendered: list[int] = []
    real = prom.render

    def counting(families):  # type: ignore[no-untyped-def]
        fams = list(families)
        rendered.append(sum(len(f.samples) + len(f.histograms) for f in fams))
        return real(fams)

    monkeypatch.setattr(prom, "render", counting)
    assert prom.exposition(ctx) == first
    # Only the small performance and self-telemetry parts are rendered again.
    small = sum(rendered)
    assert small < 50
    rendered.clear()
    ctx.evaluator.evaluate()  # a new evaluation generation: its part is rendered again
    again = prom.exposition(ctx)
    assert sum(rendered) > small + 100
    rendered.clear()
    key = ctx.aggregator.keys()[0]
    ctx.aggregator.apply(
        [(key, int(ctx.clock()) - 60, dataclasses.replace(ctx.aggregator.totals()[key]))]
    )
    changed = prom.exposition(ctx)  # a new aggregator generation: the totals are re-rendered
    assert sum(rendered) > small + 20
    assert changed != again


def test_concurrent_scrapes_return_the_same_body(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    bodies: list[str] = []
    lock = threading.Lock()

    def scrape() -> None:
        body = prom.exposition(ctx)
        with lock:
            bodies.append(body)

    threads = [threading.Thread(target=scrape) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bodies) == 4
    assert len(set(bodies)) == 1
    assert bodies[0] == prom.exposition(ctx)
