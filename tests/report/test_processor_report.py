"""``otelml report --url``: a report of a model over a time range from a real running processor.

A real ``otelml serve`` gets a baseline, one batch of reference-like OTLP metrics, an
evaluation (nothing drifts), then batches where ``f1`` is shifted by one standard deviation
and ``c0``'s category shares change, each followed by an evaluation. The command, run as a
subprocess, must write a page whose drift table flags exactly ``f1`` and ``c0``, whose history
shows ``f1`` ok first and drifting later, and which Chromium opens without console messages.
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from otelml import semconv
from otelml.report.client import ApiClient
from otelml.report.remote import ProcessorReportError, parse_time
from otelml.stats.baseline import Baseline
from processor import otlpdata
from processor.conftest import ServiceProcess, start_service
from processor.evaldata import CATEGORIES, DRIFT_P, MODEL, NUMERIC, REF_P, VERSION, make_baseline

from ._html import Page
from .test_browser import _chromium

N = 3000
"""Rows per batch: enough for every test to decide."""


def _send(svc: ServiceProcess, baseline: Baseline, rng: np.random.Generator, drift: bool) -> None:
    """POST one batch of the instrumentation's metrics (OTLP/HTTP protobuf)."""
    import urllib.request

    t = time.time_ns()
    hists = []
    for f in NUMERIC:
        edges = baseline.features[f].edges
        x = rng.normal(1.0 if drift and f == "f1" else 0.0, 1.0, N)
        counts = np.bincount(np.searchsorted(edges, x), minlength=len(edges) + 1)
        attrs = otlpdata.model_attrs(version=VERSION, feature=f)
        hists.append((attrs, edges, counts.tolist(), float(x.sum())))
    cats = rng.choice(np.array(CATEGORIES, dtype=object), N, p=DRIFT_P if drift else REF_P)
    cat_points = [
        (
            otlpdata.model_attrs(version=VERSION, feature="c0", **{semconv.FEATURE_CATEGORY: c}),
            int((cats == c).sum()),
        )
        for c in CATEGORIES
    ]
    assert baseline.prediction is not None
    score = rng.beta(2.0, 5.0, N)
    pedges = baseline.prediction.edges
    pcounts = np.bincount(np.searchsorted(pedges, score), minlength=len(pedges) + 1).tolist()
    pattrs = otlpdata.model_attrs(version=VERSION)
    req = otlpdata.metrics_request(
        otlpdata.hist_metric(semconv.FEATURE_VALUES.name, hists, time_ns=t),
        otlpdata.sum_metric(semconv.FEATURE_CATEGORY_COUNT.name, cat_points, time_ns=t),
        otlpdata.hist_metric(
            semconv.PREDICTION_VALUES.name, [(pattrs, pedges, pcounts, float(score.sum()))]
        ),
        otlpdata.sum_metric(semconv.PREDICTION_COUNT.name, [(pattrs, N)], time_ns=t),
    )
    http = urllib.request.Request(
        svc.http_url + "/v1/metrics",
        data=req.SerializeToString(),
        method="POST",
        headers={"Content-Type": "application/x-protobuf"},
    )
    with urllib.request.urlopen(http, timeout=30) as resp:
        assert resp.status == 200


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """Return a processor that saw one calm evaluation and then three drifted ones."""
    # A long interval: only this test's POST /api/v1/evaluate calls make history points.
    svc = start_service(
        tmp_path_factory.mktemp("proc") / "otelml.db", {"OTELML_EVALUATION__INTERVAL_S": "3600"}
    )
    try:
        baseline = make_baseline(n=20_000)
        client = ApiClient(svc.metrics_url)
        assert client.put_baseline(MODEL, VERSION, baseline.to_json()).status == 201
        rng = np.random.default_rng(5)
        _send(svc, baseline, rng, drift=False)
        assert client.evaluate().ok
        for _ in range(3):
            time.sleep(0.05)  # distinct evaluation times
            # Three drifted batches per calm one: the hour-long window drifts.
            for _ in range(3):
                _send(svc, baseline, rng, drift=True)
            assert client.evaluate().ok
        yield svc
    finally:
        svc.close()


def _report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otelml", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def page(service: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    proc = _report("--url", service.metrics_url, "--model", MODEL, "--since=-1h", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "4 evaluations in range" in proc.stdout, proc.stdout
    assert "2 of 6 columns drifted (c0, f1)" in proc.stdout, proc.stdout
    return out


@pytest.mark.e2e
@pytest.mark.slow
def test_report_flags_drift_and_draws_history(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    doc = Page(text)
    status = {r[0]: r[6] for r in doc.tables["drift"]}
    assert status == {
        "f1": "drift",
        "c0": "drift",
        "f0": "ok",
        "f2": "ok",
        "f3": "ok",
        "prediction (score)": "ok",
    }
    # History: four evaluations each; f1 drifted in the last three, never in the first.
    hist = {r[0]: r[1:4] for r in doc.tables["history"]}
    assert hist["f1"][:2] == ["4", "3"]
    assert hist["c0"][:2] == ["4", "3"]
    assert hist["f0"][:2] == ["4", "0"]
    assert 'aria-label="drifted in the range"' in text
    assert 'aria-label="no drift in the range"' in text
    assert text.count('class="series"') >= 6  # one line per column
    # Distributions on the baseline's bins (one per column) plus the two history charts.
    assert doc.tags.count("svg") == 6 + 2
    assert "Performance" in text
    assert "<script" not in text
    assert "default-src 'none'" in text  # the CSP: nothing is fetched when opened


@pytest.mark.e2e
@pytest.mark.slow
def test_report_opens_in_chromium_without_console_errors(tmp_path: Path, page: Path) -> None:
    dom, console = _chromium(tmp_path, page, "--dump-dom")
    assert console == []
    rendered = Page(dom)
    assert {r[0] for r in rendered.tables["drift"] if r[6] == "drift"} == {"f1", "c0"}
    assert rendered.tags.count("svg") == 8


@pytest.mark.e2e
@pytest.mark.slow
def test_range_before_the_evaluations_has_no_history(
    service: ServiceProcess, tmp_path: Path
) -> None:
    out = tmp_path / "old.html"
    # A bare duration counts back from now too.
    proc = _report("--url", service.metrics_url, "--model", MODEL, "--until", "2h", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "0 evaluations in range" in proc.stdout
    assert "No evaluation in the time range." in out.read_text(encoding="utf-8")


@pytest.mark.e2e
@pytest.mark.slow
def test_unknown_model_and_version_exit_2_naming_the_known_ones(
    service: ServiceProcess, tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    proc = _report("--url", service.metrics_url, "--model", "nosuch", "-o", str(out))
    assert proc.returncode == 2
    assert "unknown model 'nosuch'" in proc.stderr
    assert "fraud" in proc.stderr
    proc = _report("--url", service.metrics_url, "--model", MODEL, "--version", "9", "-o", str(out))
    assert proc.returncode == 2
    assert "no version '9'" in proc.stderr
    assert VERSION in proc.stderr
    assert not out.exists()


def test_unreachable_processor_exits_2(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "r.html"
    proc = _report("--url", f"http://127.0.0.1:{port}", "--model", MODEL, "-o", str(out))
    assert proc.returncode == 2
    assert "processor unreachable at http://127.0.0.1:" in proc.stderr
    assert not out.exists()


def test_parse_time() -> None:
    now = 1_700_000_000.0
    assert parse_time("-1h", now) == now - 3600
    assert parse_time("30m", now) == now - 1800
    assert parse_time("-2d", now) == now - 2 * 86400
    assert parse_time("1699990000", now) == 1_699_990_000
    assert parse_time("2023-11-14T22:13:20Z", now) == now
    assert parse_time("2023-11-14T22:13:20", now) == now  # no zone: UTC
    assert parse_time("2023-11-14T23:13:20+01:00", now) == now
    with pytest.raises(ProcessorReportError, match="bad time"):
        parse_time("yesterday", now)
    assert math.isclose(parse_time("-0.5h", now), now - 1800)
