"""The ``otelml`` command line: one module per command, each with ``register`` and ``run``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from otelml._version import __version__

# Command name -> module under otelml.cli. A command module imports only argparse at module
# level and its heavy dependencies inside run(), so `otelml baseline` never pays for the
# processor's gRPC and aiohttp imports.
COMMANDS: dict[str, tuple[str, str]] = {
    "baseline": ("otelml.cli.baseline", "build a frozen baseline from a CSV/Parquet file"),
    "drift": ("otelml.cli.drift", "compare a dataset with a baseline and print the drift table"),
    "serve": ("otelml.cli.serve", "run the processor service (OTLP in, Prometheus out)"),
    "report": ("otelml.cli.report", "write an HTML drift and data-quality report (offline)"),
    "demo": ("otelml.cli.demo", "train a model, serve it with otelml and show drift live"),
}


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available command registered."""
    parser = argparse.ArgumentParser(
        prog="otelml", description="OpenTelemetry-native ML observability."
    )
    parser.add_argument("--version", action="version", version=f"otelml {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # command not built into this distribution
            raise
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.register(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the otelml command line and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    status: int = run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
