"""``otelml report``: write a self-contained HTML drift and data-quality report.

Offline against a baseline file (``--baseline B.json CURRENT``), against reference data turned
into a baseline on the fly (``--reference REF CURRENT``), or on the bundled example data
(``--example``); or for a model over a time range from a running processor (``--url URL
--model M``). Exit status 0, or 1 with ``--fail-on-drift`` when any column drifts (the report
is written either way, so CI can keep it as an artifact); 2 on bad input, an unreachable
processor or an unknown model.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(parser: argparse.ArgumentParser) -> None:
    """Add the report command's options to ``parser``."""
    parser.add_argument(
        "current", metavar="CURRENT_DATA", nargs="?", help="current data: .csv, .csv.gz or .parquet"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--baseline", metavar="B.json", help="baseline file")
    source.add_argument(
        "--reference", metavar="REF_DATA", help="reference data to build the baseline from"
    )
    source.add_argument(
        "--example",
        action="store_true",
        help="report on the bundled example data (income and country drift)",
    )
    source.add_argument(
        "--url",
        metavar="URL",
        help="report on --model from the processor's API at URL (http://host:9464)",
    )
    parser.add_argument(
        "-o", "--output", metavar="REPORT.html", default="otelml-report.html", help="output file"
    )
    parser.add_argument("--title", help="page title (default: model and version)")
    parser.add_argument("--method", help="drift method for every feature (default per kind)")
    parser.add_argument("--model", help="model name (with --reference: default 'model'; --url)")
    parser.add_argument(
        "--version", help="model version (--reference: default 'reference'; --url: the only one)"
    )
    parser.add_argument(
        "--environment", help="with --url: deployment environment (default: production)"
    )
    parser.add_argument(
        "--since",
        metavar="TIME",
        help="with --url: ISO-8601, unix seconds, or a time ago: 1h, 30m, 2d (or --since=-1h)",
    )
    parser.add_argument("--until", metavar="TIME", help="with --url: end of the range (now)")
    parser.add_argument("--prediction", metavar="COL", help="prediction column (with --reference)")
    parser.add_argument("--bins", type=int, default=10, help="quantile bins (with --reference)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --example data")
    parser.add_argument(
        "--fail-on-drift", action="store_true", help="exit with status 1 when any column drifts"
    )
    parser.add_argument("--chunk-rows", type=int, default=65_536, help="rows read per chunk")
    parser.add_argument("--progress", action="store_true", help="show rows read on stderr")


def _inputs(args: argparse.Namespace) -> tuple[Any, Any]:
    from otelml.baselines import build_baseline, load_baseline

    if args.example:
        from otelml.examples_data import example_frames

        reference, current = example_frames(args.seed)
        return build_baseline(reference, model="example", version="1"), current
    if not args.current or not (args.baseline or args.reference):
        raise ValueError("give --baseline B.json or --reference REF_DATA, and CURRENT_DATA")
    if args.baseline:
        return load_baseline(args.baseline), args.current
    baseline = build_baseline(
        args.reference,
        model=args.model or "model",
        version=args.version or "reference",
        prediction=args.prediction,
        bins=args.bins,
        chunk_rows=args.chunk_rows,
        progress=args.progress,
    )
    return baseline, args.current


def _run_url(args: argparse.Namespace) -> int:
    import math
    import time
    from pathlib import Path

    from otelml.report.remote import ProcessorReportError, parse_time, processor_report

    try:
        if not args.model:
            raise ProcessorReportError("--url needs --model")
        if args.current:
            raise ProcessorReportError("--url reads the processor: give no CURRENT_DATA")
        now = time.time()
        since = -math.inf if args.since is None else parse_time(args.since, now)
        until = math.inf if args.until is None else parse_time(args.until, now)
        if until <= since:
            raise ProcessorReportError("--until must be after --since")
        report = processor_report(
            args.url,
            args.model,
            args.version,
            environment=args.environment,
            since=since,
            until=until,
            title=args.title or "",
        )
        out = Path(args.output)
        out.write_text(report.html, encoding="utf-8")
    except (ProcessorReportError, OSError) as exc:
        print(f"otelml report: error: {exc}", file=sys.stderr)
        return 2
    drifted = report.drifted
    evaluations = len({t for pts in report.history.values() for t in pts})
    print(
        f"wrote {out} ({len(report.html.encode()) / 1024:.0f} KiB): {report.model} "
        f"{report.version}, status {report.snapshot.status}, {evaluations} evaluations in "
        f"range, {len(drifted)} of {len(report.views)} columns drifted"
        + (f" ({', '.join(drifted)})" if drifted else "")
    )
    return 1 if args.fail_on_drift and drifted else 0


def run(args: argparse.Namespace) -> int:
    """Run ``otelml report`` and return the exit status."""
    from pathlib import Path

    if args.url:
        return _run_url(args)

    from otelml.report.offline import analyse
    from otelml.stats.baseline import BaselineFormatError

    try:
        baseline, current = _inputs(args)
        report = analyse(
            baseline,
            current,
            method=args.method,
            chunk_rows=args.chunk_rows,
            progress=args.progress,
        )
        text = report.to_html(title=args.title)
        out = Path(args.output)
        out.write_text(text, encoding="utf-8")
    except (OSError, ValueError, KeyError, BaselineFormatError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"otelml report: error: {message}", file=sys.stderr)
        return 2
    drifted = report.drifted
    print(
        f"wrote {out} ({len(text.encode()) / 1024:.0f} KiB): {report.profile.rows:,} rows, "
        f"{len(drifted)} of {len(report.views)} columns drifted"
        + (f" ({', '.join(drifted)})" if drifted else "")
    )
    return 1 if args.fail_on_drift and drifted else 0
