"""``otelml demo``: train a model, serve it with otelml, inject drift, show it live, report.

Exit status: 0 when the run completes, 130 after Ctrl-C (143 after SIGTERM) once it has
stopped cleanly and written the report, 2 when it cannot start (see docs/demo.md).
"""

from __future__ import annotations

import argparse


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number (0 for any free port), got {text}")
    return value


def register(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options to ``parser``."""
    parser.add_argument(
        "--duration",
        type=_positive,
        default=80.0,
        metavar="SECONDS",
        help="length of the run; the five phases share it equally (default 80)",
    )
    parser.add_argument(
        "--speed",
        type=_positive,
        default=50.0,
        metavar="ROWS_PER_S",
        help="predictions per second (default 50)",
    )
    live = parser.add_mutually_exclusive_group()
    live.add_argument(
        "--no-live",
        dest="live",
        action="store_false",
        default=None,
        help="plain log lines instead of the live view (the default when stdout is not a terminal)",
    )
    live.add_argument(
        "--live", dest="live", action="store_true", help="the live view even if not a terminal"
    )
    parser.add_argument(
        "--report",
        default="otelml-demo-report.html",
        metavar="PATH",
        help="where to write the HTML report (default ./otelml-demo-report.html)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help="keep the processor's SQLite database and the log here (default: a temporary "
        "directory, removed at the end)",
    )
    parser.add_argument(
        "--metrics-port",
        type=_port,
        default=None,
        metavar="PORT",
        help="port of /metrics and the API on 127.0.0.1 (default 9464, or a free port when "
        "9464 is busy; 0: any free port)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo and return its exit status."""
    from otelml.demo import DemoOptions, run_demo

    return run_demo(
        DemoOptions(
            duration_s=args.duration,
            speed=args.speed,
            live=args.live,
            report=args.report,
            seed=args.seed,
            state_dir=args.state_dir,
            metrics_port=args.metrics_port,
        )
    )
