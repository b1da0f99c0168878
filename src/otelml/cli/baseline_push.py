"""``otelml baseline push FILE``: upload a baseline JSON to a running processor's HTTP API.

Hooked into ``otelml baseline`` by :func:`add_push_command`; the upload is a plain
``PUT /api/v1/models/{model}/versions/{version}/baseline`` with the standard library's HTTP
client, so pushing needs none of the processor's dependencies. A processor with write tokens
gets ``$OTELML_API_TOKEN`` as ``Authorization: Bearer``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

DEFAULT_URL = "http://127.0.0.1:9464"


def add_push_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Add the ``push`` subcommand to ``otelml baseline``'s subparsers and return its parser.

    The parser's defaults carry ``baseline_run=run_push`` so the caller can dispatch on it.
    """
    p: argparse.ArgumentParser = subparsers.add_parser(
        "push", help="upload a baseline JSON to a running otelml processor"
    )
    p.add_argument("file", metavar="FILE", help="baseline JSON (from `otelml baseline build`)")
    p.add_argument(
        "--url", default=DEFAULT_URL, help=f"processor API base URL (default {DEFAULT_URL})"
    )
    p.add_argument(
        "--version",
        dest="push_version",
        metavar="VERSION",
        help="store under this model version instead of the file's own",
    )
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (default 30)")
    p.set_defaults(baseline_run=run_push)
    return p


def run_push(args: argparse.Namespace) -> int:
    """Upload ``args.file``; print what the processor stored. Return 0, or 1 on any error."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    try:
        with open(args.file, "rb") as fh:
            body = fh.read()
        doc = json.loads(body)
        model, version = str(doc["model"]), str(args.push_version or doc["version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(
            f"otelml baseline push: {args.file}: not a readable baseline ({exc})", file=sys.stderr
        )
        return 1
    q = urllib.parse.quote
    url = (
        f"{args.url.rstrip('/')}/api/v1/models/{q(model, safe='')}/versions/"
        f"{q(version, safe='')}/baseline"
    )
    headers = {"Content-Type": "application/json"}
    token = os.environ.get("OTELML_API_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=args.timeout) as resp:
            info = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        with contextlib.suppress(ValueError, KeyError, TypeError):
            detail = json.loads(detail)["error"]["message"]
        print(f"otelml baseline push: {exc.code}: {detail}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"otelml baseline push: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(
        f"stored baseline of {info['model']} version {info['version']} "
        f"({info['features']} features)"
    )
    return 0
