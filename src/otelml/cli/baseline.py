"""``otelml baseline build|show``: freeze a baseline from a data file, or summarise one."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [n.strip() for n in text.split(",") if n.strip()]


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``build`` and ``show`` subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="baseline_command", metavar="{build,show,push}")
    sub.required = True
    b = sub.add_parser("build", help="build a baseline JSON from a CSV or Parquet file")
    b.add_argument("data", metavar="DATA", help="reference data: .csv, .csv.gz or .parquet")
    b.add_argument("--model", required=True, help="model name")
    b.add_argument("--version", required=True, help="model version")
    b.add_argument("-o", "--output", required=True, metavar="OUT.json", help="baseline file")
    b.add_argument("--features", metavar="A,B", help="feature columns (default: all others)")
    b.add_argument("--categorical", metavar="A,B", help="columns to treat as categorical")
    b.add_argument("--numeric", metavar="A,B", help="columns to treat as numeric")
    b.add_argument("--prediction", metavar="COL", help="prediction column")
    b.add_argument("--label", metavar="COL", help="ground-truth label column")
    b.add_argument("--importances", metavar="FILE.json", help='{"feature": importance, ...}')
    b.add_argument("--bins", type=int, default=10, help="quantile bins per numeric feature")
    b.add_argument("--chunk-rows", type=int, default=65_536, help="rows read per chunk")
    b.add_argument("--progress", action="store_true", help="show rows read on stderr")
    s = sub.add_parser("show", help="print a baseline's features")
    s.add_argument("file", metavar="FILE", help="baseline JSON")
    s.add_argument("--format", choices=("table", "json"), default="table")
    # `otelml baseline push` lives with the processor's API client (stdlib-only import).
    from otelml.cli.baseline_push import add_push_command

    add_push_command(sub)


@contextlib.contextmanager
def warnings_on_stderr(command: str) -> Iterator[None]:
    """Show the library's warnings (``otelml`` logger) as ``otelml COMMAND: warning:`` lines."""
    logger = logging.getLogger("otelml")
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter(f"otelml {command}: warning: %(message)s"))
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "-"
    return f"{x:.{digits}g}"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def show_text(baseline: Any) -> str:
    """Return a human-readable summary of a baseline."""
    head = (
        f"model {baseline.model}  version {baseline.version}  created {baseline.created_at}  "
        f"schema {baseline.schema_version}"
    )
    rows = []
    columns = [(f, "feature") for f in baseline.features.values()]
    columns += [
        (c, role)
        for c, role in ((baseline.prediction, "prediction"), (baseline.label, "label"))
        if c is not None
    ]
    for fb, role in columns:
        if fb.kind == "numeric":
            shape = f"{len(fb.ref_counts)} bins [{_fmt(fb.min)}, {_fmt(fb.max)}]"
            centre = f"mean {_fmt(fb.mean)} sd {_fmt(fb.std)}"
        else:
            shape = f"{len(fb.categories)} categories"
            top = sorted(fb.categories.items(), key=lambda kv: -kv[1])[:3]
            centre = ", ".join(k for k, _ in top)
        rows.append(
            [
                fb.name,
                role,
                fb.kind,
                str(fb.count),
                f"{100 * fb.missing_rate:.1f}%",
                f"{100 * fb.nan_rate:.1f}%",
                shape,
                centre,
                _fmt(fb.importance),
            ]
        )
    header = ["column", "role", "kind", "rows", "missing", "nan", "bins", "summary", "importance"]
    return head + "\n\n" + _table(rows, header)


def _build(args: argparse.Namespace, importances: dict[str, float] | None) -> Any:
    from otelml.baselines import build_baseline

    return build_baseline(
        args.data,
        model=args.model,
        version=args.version,
        features=_names(args.features),
        categorical=_names(args.categorical),
        numeric=_names(args.numeric),
        prediction=args.prediction,
        label=args.label,
        importances=importances,
        bins=args.bins,
        chunk_rows=args.chunk_rows,
        progress=args.progress,
    )


def run(args: argparse.Namespace) -> int:
    """Run ``otelml baseline build|show`` and return the exit status."""
    import json

    from otelml.baselines import load_baseline, save_baseline
    from otelml.stats.baseline import BaselineFormatError

    push = getattr(args, "baseline_run", None)
    if push is not None:
        status: int = push(args)
        return status
    try:
        if args.baseline_command == "show":
            baseline = load_baseline(args.file)
            print(baseline.to_json() if args.format == "json" else show_text(baseline))
            return 0
        importances = None
        if args.importances:
            with open(args.importances, encoding="utf-8") as f:
                importances = {str(k): float(v) for k, v in json.load(f).items()}
        with warnings_on_stderr("baseline"):
            baseline = _build(args, importances)
        save_baseline(baseline, args.output)
    except (OSError, ValueError, KeyError, BaselineFormatError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"otelml baseline: error: {message}", file=sys.stderr)
        return 2
    n_rows = next(iter(baseline.features.values())).count if baseline.features else 0
    print(
        f"wrote {args.output}: {len(baseline.features)} features from {n_rows:,} rows",
        file=sys.stderr,
    )
    return 0
