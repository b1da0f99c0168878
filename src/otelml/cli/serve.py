"""``otelml serve``: run the processor service (OTLP in, Prometheus out)."""

from __future__ import annotations

import argparse
import sys


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser``."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="YAML configuration file; OTELML_<SECTION>__<OPTION> variables override it "
        "(see docs/processor.md)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate the configuration, print where the database is, and exit",
    )


def run(args: argparse.Namespace) -> int:
    """Load the configuration and serve until SIGTERM / SIGINT; return the exit status."""
    from otelml.processor.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"otelml serve: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print(f"configuration OK; database: {config.db_path()}")
        return 0
    from otelml.processor.service import serve

    return serve(config)
