"""The run's loop and its end: traffic and view every tick, then flush, evaluate, report.

The loop runs on the main thread: each tick makes the predict calls that fell due (by wall
clock, so a slow refresh never lowers the rate), sends the labels that fell due, and once a
second reads the processor's view and draws it. At the end (time up or a signal) the
telemetry is flushed, the processor evaluates once more, and the summary and report are
written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from otelml.demo.live import (
    LiveView,
    Progress,
    Style,
    can_go_live,
    frame,
    status_line,
    use_color,
)
from otelml.demo.run import Run
from otelml.demo.scenario import MODEL, PHASES, VERSION

REFRESH_S = 1.0
LOG_EVERY_S = 5.0
TICK_S = 0.05


def _sample(run: Run, elapsed: float, phase: int, snap: Any) -> None:
    """Keep what the report plots over time from one snapshot."""
    perf = snap.performance
    run.timeline.append(
        {
            "t": elapsed,
            "phase": phase,
            "status": {
                f.name: f.status
                for f in [*snap.features, *([snap.prediction] if snap.prediction else [])]
            },
            "quality": {f.name: dict(f.quality) for f in snap.features},
            "realised": dict(perf.realised),
            "estimated": dict(perf.estimated),
            "coverage": perf.coverage,
        }
    )


def _progress(run: Run, traffic: Any, ends: Any, elapsed: float, phase: int) -> Progress:
    c = traffic.counters
    return Progress(
        elapsed_s=elapsed,
        duration_s=run.timing.duration_s,
        phase=phase,
        predictions=c.predictions,
        speed=run.options.speed,
        labels_sent=c.labels_sent,
        labels_pending=c.labels_pending,
        labels_never=c.labels_never,
        metrics_url=ends.metrics_url,
        otlp_grpc=ends.otlp_grpc,
        report_path=run.options.report,
        stopping=bool(run.stop),
    )


def loop(run: Run, traffic: Any, client: Any, ends: Any) -> None:
    """Drive traffic and the view until the duration is over or a signal asks to stop."""
    from otelml.report.snapshot import poll

    live = run.options.live
    if live is None:
        live = can_go_live(run.out)
    style = Style(use_color(run.out))
    view = LiveView(run.out) if live else None
    draw: Callable[[Progress, Any], None]
    if view is not None:
        view.start()

        def draw(p: Progress, snap: Any) -> None:
            view.draw(frame(p, snap, style, view.size().columns))

    else:

        def draw(p: Progress, snap: Any) -> None:
            if p.elapsed_s - last_log[0] >= LOG_EVERY_S or p.stopping:
                last_log[0] = p.elapsed_s
                run.say(status_line(p, snap))

    last_log = [0.0]
    t0 = time.monotonic()
    run.started_wall = time.time()
    phase = -1
    next_refresh = 0.0
    try:
        while not run.stop:
            elapsed = time.monotonic() - t0
            if elapsed >= run.timing.duration_s:
                break
            now_phase = run.timing.phase_at(elapsed)
            if now_phase != phase:
                phase = now_phase
                run.phase_starts.append(elapsed)
                if view is None:
                    p = PHASES[phase]
                    run.say(
                        f"[{elapsed:5.1f}s] phase {phase + 1}/{len(PHASES)}: {p.title}: {p.detail}"
                    )
            traffic.step(elapsed, phase)
            if elapsed >= next_refresh:
                next_refresh = elapsed + REFRESH_S
                snap = poll(client, MODEL, VERSION)
                _sample(run, elapsed, phase, snap)
                draw(_progress(run, traffic, ends, elapsed, phase), snap)
            time.sleep(TICK_S)
    finally:
        if view is not None:
            view.stop()
    if run.stop:
        run.say(f"otelml demo: stopping after {time.monotonic() - t0:.1f} s (signal received)…")


def finish(
    run: Run,
    baseline: Any,
    traffic: Any,
    client: Any,
    telemetry: Any,
    ends: Any,
) -> int:
    """Flush, evaluate once more, print the summary, write the report; return the status."""
    from otelml.demo.report import write_report
    from otelml.report.snapshot import poll

    # Exports return once the processor acknowledged them, and it acknowledges only what is
    # durable and applied: after the flush, the final evaluation sees every prediction.
    telemetry.flush(timeout_s=10.0)
    client.evaluate()
    snap = poll(client, MODEL, VERSION)
    elapsed = time.time() - run.started_wall
    _sample(run, elapsed, run.timing.phase_at(elapsed), snap)
    _summary(run, snap, traffic)
    path = write_report(
        run.options.report,
        client=client,
        baseline=baseline,
        snapshot=snap,
        timeline=run.timeline,
        phase_starts=run.phase_starts,
        started_wall=run.started_wall,
        info={
            "duration": f"{elapsed:.0f} s",
            "predictions": f"{traffic.counters.predictions:,}",
            "labels sent": f"{traffic.counters.labels_sent:,}",
            "drift window": f"{run.timing.window_s} s",
            "seed": str(run.options.seed),
            "/metrics": f"{ends.metrics_url}/metrics",
        },
        stopped_early=bool(run.stop),
    )
    size = path.stat().st_size
    run.say(f"otelml demo: wrote {path} ({size / 1024:.0f} KiB)")
    return run.stop.exit_status


def _summary(run: Run, snap: Any, traffic: Any) -> None:
    from otelml.demo.live import drift_header, feature_line, fmt_num, fmt_pct
    from otelml.report.snapshot import STATUS_ORDER

    say, style = run.say, Style(False)
    c = traffic.counters
    say(
        f"otelml demo: {c.predictions:,} predictions in {c.calls:,} calls; "
        f"{c.labels_sent:,} labels sent, {c.labels_pending:,} still pending, "
        f"{c.labels_never:,} never sent"
    )
    if not snap.evaluated:
        say("final drift status: the processor has not evaluated the model")
        return
    say(f"final drift status (last {snap.window_s:.0f} s vs baseline; model status {snap.status}):")
    say(drift_header())
    rows = sorted(snap.features, key=lambda f: (STATUS_ORDER.get(f.status, 9), f.name))
    for f in [*rows, *([snap.prediction] if snap.prediction else [])]:
        say(feature_line(style, f))
    say("")
    drifting = [f.name for f in snap.features if f.status == "drift"]
    say(f"drifting: {', '.join(drifting) or 'none'}")
    stable = [f.name for f in snap.features if f.status == "ok"]
    say(f"stable: {', '.join(stable) or 'none'}")
    perf = snap.performance
    if not perf.available or not (perf.realised or perf.estimated):
        say(f"performance: {perf.note}")
    else:
        parts = [
            f"{m} realised {fmt_num(perf.realised.get(m))} / estimated "
            f"{fmt_num(perf.estimated.get(m))}"
            for m in ("accuracy", "roc_auc")
        ]
        cov = f"; label coverage {fmt_pct(perf.coverage)}" if perf.coverage is not None else ""
        say("performance: " + "; ".join(parts) + cov)
