"""``otelml demo`` from start to end: processor, model, baseline, traffic, view, report.

Exit status: 0 when the run completes; 130 after Ctrl-C (SIGINT) and 143 after SIGTERM, the
shell conventions for "stopped by a signal", reached only after a clean stop: traffic stopped,
telemetry flushed, a final evaluation, the report written, the processor flushed and closed.
A second Ctrl-C skips the report. 2 when the demo cannot start (scikit-learn missing,
telemetry disabled by the environment, a busy ``--metrics-port``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from otelml.demo.run import DemoOptions, Run, StopRequest, Timing
from otelml.demo.scenario import MODEL, VERSION

LOGGERS = ("otelml", "opentelemetry", "grpc", "aiohttp")


@contextlib.contextmanager
def _log_to_file(path: Path) -> Iterator[None]:
    """Send the otelml, OpenTelemetry, gRPC and aiohttp loggers to ``path``, not the screen.

    A log line on the terminal would break the live view; the loggers are put back as they
    were afterwards (``run_demo`` can be called from Python).
    """
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved = []
    for name in LOGGERS:
        lg = logging.getLogger(name)
        saved.append((lg, lg.level, lg.propagate))
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
        lg.propagate = False
    try:
        yield
    finally:
        for lg, level, propagate in saved:
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate
        handler.close()


def run_demo(options: DemoOptions, out: TextIO | None = None) -> int:
    """Run the demo and return the exit status (see the module docstring)."""
    from otelml.demo.scenario import SklearnMissing, require_sklearn

    out = out or sys.stdout
    try:
        require_sklearn()
    except SklearnMissing as exc:
        print(f"otelml demo: {exc}", file=sys.stderr)
        return 2
    if _telemetry_disabled():
        print(
            "otelml demo: OTEL_SDK_DISABLED or OTELML_DISABLED is set; the demo shows what "
            "otelml's telemetry carries, so unset it",
            file=sys.stderr,
        )
        return 2
    stop = StopRequest()
    with stop.installed(), _state_dir(options.state_dir) as state:
        run = Run(options, Timing.of(options.duration_s), out, stop)
        with _log_to_file(state / "otelml-demo.log"):
            try:
                return _run(run, state)
            except KeyboardInterrupt:
                out.write("\notelml demo: interrupted twice; stopped without a report\n")
                return 130


def _telemetry_disabled() -> bool:
    return any(
        os.environ.get(var, "").strip().lower() == "true"
        for var in ("OTEL_SDK_DISABLED", "OTELML_DISABLED")
    )


@contextlib.contextmanager
def _state_dir(path: str | None) -> Iterator[Path]:
    if path is not None:
        p = Path(path).expanduser()
        p.mkdir(parents=True, exist_ok=True)
        yield p
        return
    with tempfile.TemporaryDirectory(prefix="otelml-demo-") as tmp:
        yield Path(tmp)


def _run(run: Run, state: Path) -> int:
    from otelml.demo.embedded import EmbeddedProcessor, demo_config, metrics_endpoint
    from otelml.demo.scenario import Scenario
    from otelml.report.client import ApiClient

    opts, say = run.options, run.say
    say(
        "otelml demo: training a logistic regression on scikit-learn's breast cancer data "
        f"(seed {opts.seed})…"
    )
    scenario = Scenario(opts.seed)
    scenario.train()
    baseline = scenario.baseline()
    say(
        f"otelml demo: model {MODEL} {VERSION}: hold-out accuracy "
        f"{scenario.holdout_accuracy:.3f}; baseline of "
        f"{next(iter(baseline.features.values())).count:,} reference rows "
        f"({len(baseline.features)} features, prediction, label, "
        f"{len(baseline.reference_scores['scores']):,} labelled scores for CBPE)"
    )
    endpoint, moved = metrics_endpoint(opts.metrics_port)
    config = demo_config(
        state / "otelml.db",
        endpoint,
        window_s=run.timing.window_s,
        performance_window_s=run.timing.performance_window_s,
    )
    processor = EmbeddedProcessor(config)
    try:
        ends = processor.start()
    except OSError as exc:
        print(f"otelml demo: cannot start the processor: {exc}", file=sys.stderr)
        return 2
    telemetry: Any = None
    try:
        if moved:
            say("otelml demo: port 9464 is busy; /metrics moved to a free port")
        say(f"otelml demo: processor ready: /metrics {ends.metrics_url}/metrics")
        say(f"otelml demo:   OTLP gRPC {ends.otlp_grpc} · OTLP HTTP {ends.otlp_http}")
        say(f"otelml demo:   state in {state}")
        client = ApiClient(ends.metrics_url)
        answer = client.put_baseline(MODEL, VERSION, baseline.to_json())
        if not answer.ok:
            print(f"otelml demo: baseline upload failed: {answer.body}", file=sys.stderr)
            return 1
        from otelml.demo.drive import finish, loop
        from otelml.demo.traffic import Traffic, observed_predict, setup_telemetry

        telemetry = setup_telemetry(ends.otlp_grpc)
        traffic = Traffic(
            scenario,
            observed_predict(scenario, baseline),
            opts.speed,
            run.timing.label_delay_s,
            seed=opts.seed,
        )
        loop(run, traffic, client, ends)
        return finish(run, baseline, traffic, client, telemetry, ends)
    finally:
        if telemetry is not None:
            telemetry.shutdown()
        processor.stop()
