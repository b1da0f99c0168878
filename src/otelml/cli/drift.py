"""``otelml drift``: compare a dataset with a baseline and print the drift table.

Each feature (and the prediction, when the baseline has one) is counted on the baseline's bins
or categories and ranked by :func:`otelml.report.table.drift_report`, the same table the HTML
report shows. Exit status 0, or 1 with ``--fail-on-drift`` when
any feature drifts (for CI); 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(parser: argparse.ArgumentParser) -> None:
    """Add the drift command's options to ``parser``."""
    parser.add_argument(
        "current", metavar="CURRENT_DATA", nargs="?", help="current data: .csv, .csv.gz or .parquet"
    )
    parser.add_argument("--baseline", metavar="B.json", help="baseline file")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--method", help="drift method for every feature (default per kind)")
    parser.add_argument(
        "--fail-on-drift", action="store_true", help="exit with status 1 when any feature drifts"
    )
    parser.add_argument(
        "--example",
        action="store_true",
        help="run on the bundled example data (income and country drift)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the --example data")
    parser.add_argument("--chunk-rows", type=int, default=65_536, help="rows read per chunk")
    parser.add_argument("--progress", action="store_true", help="show rows read on stderr")


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.1e}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """Return the drift table as aligned text."""
    header = ["feature", "kind", "method", "statistic", "p-value", "effect", "status", "notes"]
    body = [
        [
            r["feature"] + (" (prediction)" if r["role"] == "prediction" else ""),
            r["kind"],
            r["method"] or "-",
            _num(r["statistic"]),
            _num(r["p_value"]),
            _num(r["effect_size"]),
            r["status"],
            "; ".join(r["notes"]),
        ]
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)).rstrip()
        for x in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``otelml drift`` and return the exit status."""
    import json

    from otelml.baselines import build_baseline, load_baseline, profile_current
    from otelml.report.table import drift_report
    from otelml.stats.baseline import BaselineFormatError

    try:
        if args.example:
            from otelml.examples_data import example_frames

            reference, current = example_frames(args.seed)
            baseline = build_baseline(reference, model="example", version="1")
            data: Any = current
        else:
            if not args.baseline or not args.current:
                print(
                    "otelml drift: error: give --baseline B.json and CURRENT_DATA (or --example)",
                    file=sys.stderr,
                )
                return 2
            baseline = load_baseline(args.baseline)
            data = args.current
        profile = profile_current(
            data, baseline, chunk_rows=args.chunk_rows, progress=args.progress
        )
        rows = drift_report(baseline, profile, method=args.method)
    except (OSError, ValueError, KeyError, BaselineFormatError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"otelml drift: error: {message}", file=sys.stderr)
        return 2
    if args.format == "json":
        doc = {
            "model": baseline.model,
            "version": baseline.version,
            "rows": profile.rows,
            "features": rows,
        }
        print(json.dumps(doc, indent=1))
    else:
        drifted = sum(r["status"] == "drift" for r in rows)
        print(
            f"model {baseline.model} version {baseline.version}: {profile.rows:,} rows, "
            f"{drifted} of {len(rows)} columns drifted\n"
        )
        print(format_table(rows))
    if args.fail_on_drift and any(r["status"] == "drift" for r in rows):
        return 1
    return 0
