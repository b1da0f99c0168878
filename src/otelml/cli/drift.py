"""``otelml drift``: compare a dataset with a baseline and print the drift table.

Each feature (and the prediction, when the baseline has one) is counted on the baseline's bins
or categories and ranked by :func:`otelml.report.table.drift_report`, the same table the HTML
report shows. The data's schema is checked against the baseline's: features it lacks, columns
the baseline does not know and an empty file are named on stderr and in the JSON document.
With ``--fail-on-drift`` (for CI) the exit status says which gate failed (:data:`EXIT_HELP`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_USAGE = 2
EXIT_SCHEMA = 3
EXIT_HELP = """exit status:
  0  no drift (or no --fail-on-drift)
  1  with --fail-on-drift: some feature or the prediction drifted
  2  bad input: unreadable data or baseline, wrong options
  3  with --fail-on-drift: the data does not match the baseline's schema (baseline features
     missing from the data, columns the baseline does not know, or no rows); each is named
     on stderr. Allow extra columns such as ids with --allow-columns."""


def register(parser: argparse.ArgumentParser) -> None:
    """Add the drift command's options to ``parser``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_HELP
    parser.add_argument(
        "current", metavar="CURRENT_DATA", nargs="?", help="current data: .csv, .csv.gz or .parquet"
    )
    parser.add_argument("--baseline", metavar="B.json", help="baseline file")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--method", help="drift method for every feature (default per kind)")
    parser.add_argument(
        "--fail-on-drift",
        action="store_true",
        help="exit with status 1 when any feature drifts, 3 when the schema does not match",
    )
    parser.add_argument(
        "--allow-columns",
        metavar="A,B",
        help="columns the baseline does not know that are fine to have (ids, timestamps)",
    )
    parser.add_argument(
        "--nan-as-invalid",
        action="store_true",
        help="count NaN apart from missing values where the file can tell them apart",
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
    from otelml.cli.baseline import warnings_on_stderr
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
        with warnings_on_stderr("drift"):
            profile = profile_current(
                data,
                baseline,
                chunk_rows=args.chunk_rows,
                progress=args.progress,
                nan_is_missing=not args.nan_as_invalid,
            )
        rows = drift_report(baseline, profile, method=args.method)
    except (OSError, ValueError, KeyError, BaselineFormatError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"otelml drift: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    allowed = {c.strip() for c in (args.allow_columns or "").split(",") if c.strip()}
    schema = {
        "missing": list(profile.absent),
        "unknown": [c for c in profile.unknown if c not in allowed],
        "rows": profile.rows,
    }
    problems = schema_problems(schema)
    drifted = sum(r["status"] == "drift" for r in rows)
    status = "schema_mismatch" if problems else ("drift" if drifted else "ok")
    if args.format == "json":
        counts: dict[str, int] = {"columns": len(rows)}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        counts.setdefault("drift", 0)
        doc = {
            "status": status,
            "model": baseline.model,
            "version": baseline.version,
            "rows": profile.rows,
            "counts": counts,
            "schema": schema,
            "quality": {
                c: {
                    "rows": profile.rows,
                    "missing": profile.missing.get(c, 0),
                    "type_mismatch": profile.type_mismatch.get(c, 0),
                }
                for c in profile.sketches
            },
            "features": rows,
        }
        print(json.dumps(doc, indent=1))
    else:
        print(
            f"model {baseline.model} version {baseline.version}: {profile.rows:,} rows, "
            f"{drifted} of {len(rows)} columns drifted\n"
        )
        print(format_table(rows))
        bad = {c: n for c, n in profile.type_mismatch.items() if n}
        if bad:
            print(
                "\ncells that are not numbers (type mismatch): "
                + ", ".join(f"{c} {n:,}" for c, n in bad.items())
            )
    for problem in problems:
        print(f"otelml drift: schema: {problem}", file=sys.stderr)
    if args.fail_on_drift and problems:
        return EXIT_SCHEMA
    if args.fail_on_drift and drifted:
        return EXIT_DRIFT
    return EXIT_OK


def schema_problems(schema: dict[str, Any]) -> list[str]:
    """Return one sentence per way the data's schema differs from the baseline's."""
    out = []
    if schema["rows"] == 0:
        out.append("the data has no rows")
    if schema["missing"]:
        out.append(f"baseline columns missing from the data: {', '.join(schema['missing'])}")
    if schema["unknown"]:
        out.append(
            "columns the baseline does not know (renamed? another model's baseline? allow them "
            f"with --allow-columns): {', '.join(schema['unknown'])}"
        )
    return out
