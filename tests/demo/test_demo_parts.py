"""The demo's parts without a run: timing, the terminal view, API parsing, start-up errors."""

from __future__ import annotations

import re
import socket
import sys
from typing import Any

import numpy as np
import pytest

from otelml.cli import build_parser
from otelml.demo import embedded, live
from otelml.demo.embedded import DEFAULT_METRICS_PORT, metrics_endpoint
from otelml.demo.run import DemoOptions, Timing
from otelml.demo.runner import run_demo
from otelml.demo.scenario import PHASES, SklearnMissing, require_sklearn
from otelml.report.client import Answer, samples
from otelml.report.snapshot import FeatureRow, Performance, Snapshot, _performance

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_timing_keeps_the_drift_window_inside_a_phase() -> None:
    t = Timing.of(80.0)
    assert t.phase_s == pytest.approx(16.0)
    assert t.window_s == 12
    assert t.window_s < t.phase_s
    assert t.performance_window_s >= t.window_s + t.label_delay_s[1]
    assert [t.phase_at(x) for x in (0.0, 15.9, 16.0, 79.9, 200.0)] == [0, 0, 1, 4, 4]
    short = Timing.of(20.0)
    assert short.window_s == 3  # never below 3 s, so a window holds enough rows
    assert short.label_delay_s[0] < short.label_delay_s[1] <= short.phase_s


def _snapshot() -> Snapshot:
    rows = [
        FeatureRow("mean_texture", "numeric", "drift", "wasserstein", 1.8, 0.0, 1.8, 0.13, 300),
        FeatureRow(
            "channel",
            "categorical",
            "drift",
            "chi_square",
            1500.0,
            1e-30,
            0.4,
            0.0,
            300,
            quality={"new_category": 0.3},
            quality_status="alert",
        ),
        FeatureRow("worst_area", "numeric", "ok", "wasserstein", 0.05, 0.9, 0.05, 0.28, 300),
    ]
    perf = Performance(
        True,
        realised={"accuracy": 0.66},
        estimated={"accuracy": 0.94},
        baseline={"accuracy": 0.96},
        coverage=0.63,
        status="degraded",
        labeled=274,
        predictions=434,
        diverged=["accuracy"],
    )
    return Snapshot(True, "drift", 12.0, 600, rows, None, perf, metrics_series=547)


def _progress() -> live.Progress:
    return live.Progress(
        37.0, 80.0, 2, 1850, 50.0, 1400, 90, 270, "http://127.0.0.1:9464", "x", "r"
    )


@pytest.mark.parametrize("width", [60, 80, 120])
def test_live_frame_fits_the_terminal(width: int) -> None:
    lines = live.frame(_progress(), _snapshot(), live.Style(True), width)
    text = "\n".join(_ANSI.sub("", line) for line in lines)
    assert "phase 3/5: new category" in text
    assert "realised left the estimate's band" in text
    assert "label coverage 63%" in text
    for line in lines:
        cut = live._cut(line, width - 1)
        assert len(_ANSI.sub("", cut)) <= width - 1
    compact = width < live.COMPACT_BELOW
    assert ("wasserstein" in text) is not compact


def test_live_frame_puts_drifting_features_first() -> None:
    lines = [_ANSI.sub("", x) for x in live.frame(_progress(), _snapshot(), live.Style(False))]
    order = [x.split()[0] for x in lines if x.startswith("  ") and x.split()]
    order = [r for r in order if r in ("mean_texture", "channel", "worst_area")]
    assert order.index("worst_area") > max(order.index("mean_texture"), order.index("channel"))


def test_status_line_names_drift_quality_and_performance() -> None:
    line = live.status_line(_progress(), _snapshot())
    assert "drift: mean_texture=drift, channel=drift" in line
    assert "channel new_category 30%" in line
    assert "realised/estimated accuracy 0.66/0.94" in line
    assert "diverged: accuracy" in line


class _FakeClient:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def performance(self, model: str, version: str) -> Answer:
        return self.answer


@pytest.mark.parametrize("message", ["Not Found", "the ground-truth join is not running"])
def test_performance_waits_for_the_join(message: str) -> None:
    client: Any = _FakeClient(Answer(404, {"error": {"status": 404, "message": message}}))
    perf = _performance(client, "m", "1", "")
    assert not perf.available
    assert perf.note == "waiting for the ground-truth join"
    client = _FakeClient(Answer(404, {"error": {"message": "no predictions of model 'm'"}}))
    assert _performance(client, "m", "1", "").available


def test_performance_reads_the_all_rows_segment() -> None:
    body = {
        "segments": [
            {"segment": "channel=web", "metrics": {"accuracy": 0.1}},
            {
                "segment": "",
                "predictions": 400,
                "labeled": 300,
                "coverage": 0.75,
                "status": "degraded",
                "metrics": {"accuracy": 0.7, "roc_auc": None},
                "estimated": {"accuracy": 0.93},
                "baseline": {"accuracy": 0.96},
                "divergence": {"accuracy": True, "f1": False},
            },
        ]
    }
    perf = _performance(_FakeClient(Answer(200, body)), "m", "1", "")  # type: ignore[arg-type]
    assert perf.realised == {"accuracy": 0.7}
    assert perf.estimated == {"accuracy": 0.93}
    assert (perf.coverage, perf.labeled, perf.predictions) == (0.75, 300, 400)
    assert perf.diverged == ["accuracy"]


def test_samples_parse_the_exposition() -> None:
    text = (
        "# HELP x y\n"
        'otelml_feature_bin_share{model="m",feature="c\\"q",bin="web",source="current"} 0.25\n'
        "otelml_processor_queue_depth 0\n"
    )
    got = list(samples(text, "otelml_feature"))
    assert got == [
        (
            "otelml_feature_bin_share",
            {"model": "m", "feature": 'c"q', "bin": "web", "source": "current"},
            0.25,
        )
    ]


def test_metrics_port_moves_when_the_default_is_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    # The default port stands in for 9464: a port this test holds (bound to port 0), so the
    # outcome never depends on what else runs on the machine.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    busy = holder.getsockname()[1]
    monkeypatch.setattr(embedded, "DEFAULT_METRICS_PORT", busy)
    try:
        assert metrics_endpoint(None) == ("127.0.0.1:0", True)
    finally:
        holder.close()
    assert metrics_endpoint(0) == ("127.0.0.1:0", False)
    assert metrics_endpoint(9999) == ("127.0.0.1:9999", False)


def test_metrics_port_stays_on_the_default_when_it_is_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    free = probe.getsockname()[1]
    probe.close()
    monkeypatch.setattr(embedded, "DEFAULT_METRICS_PORT", free)
    assert metrics_endpoint(None) == (f"127.0.0.1:{free}", False)
    assert DEFAULT_METRICS_PORT == 9464


def test_missing_sklearn_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn -> ImportError
    with pytest.raises(SklearnMissing, match=r"pip install 'otelml\[demo\]'"):
        require_sklearn()
    assert run_demo(DemoOptions()) == 2
    assert "pip install 'otelml[demo]'" in capsys.readouterr().err


def test_cli_flags() -> None:
    args = build_parser().parse_args(
        ["demo", "--duration", "30", "--speed", "10", "--no-live", "--seed", "4"]
    )
    assert (args.duration, args.speed, args.live, args.seed) == (30.0, 10.0, False, 4)
    assert args.report == "otelml-demo-report.html"
    assert args.metrics_port is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--duration", "0"])
    assert len(PHASES) == 5


@pytest.mark.slow  # scikit-learn's import alone takes seconds
def test_the_story_drifts_what_it_says_and_nothing_else() -> None:
    """Offline, on the processor's own comparison: 40 windows of the last phase's traffic."""
    from otelml.demo.scenario import DRIFTED, MISSING_COLUMN, Scenario
    from otelml.stats._columns import split_categorical, split_numeric
    from otelml.stats.compare import compare
    from otelml.stats.decision import decide

    scenario = Scenario(seed=5)
    scenario.train()
    baseline = scenario.baseline()
    drifted: dict[str, int] = {}
    missing_share = []
    for _ in range(40):
        cols, _labels = scenario.draw(600, phase=4)
        results = {}
        for name, fb in baseline.features.items():
            sketch = fb.new_sketch()
            if fb.kind == "numeric":
                values, n_missing = split_numeric(cols[name], name)
            else:
                values, n_missing = split_categorical(cols[name])
            sketch.update_many(values)
            results[name] = compare(fb, sketch)
            if name == MISSING_COLUMN:
                missing_share.append(n_missing / 600)
        for name, status in decide(results).items():
            drifted[name] = drifted.get(name, 0) + (status.status == "drift")
    assert {n for n, k in drifted.items() if k == 40} == set(DRIFTED)
    assert {n for n, k in drifted.items() if k > 0} == set(DRIFTED)
    assert np.mean(missing_share) == pytest.approx(0.4, abs=0.02)
