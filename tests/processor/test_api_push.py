"""``otelml baseline push``: uploads through the API; errors are reported, not raised."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from otelml.cli.baseline_push import add_push_command
from otelml.processor.api.app import make_http_app

from .evaldata import (
    close_registries,  # noqa: F401 - autouse fixture
    make_aggregator,
    make_baseline,
    make_context,
)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="otelml baseline")
    sub = parser.add_subparsers(dest="baseline_command")
    add_push_command(sub)
    return parser.parse_args(argv)


async def test_push_uploads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = make_context(make_aggregator([]), tmp_path / "db")
    baseline = make_baseline(n=1000)
    path = tmp_path / "b.json"
    path.write_text(baseline.to_json())
    async with TestClient(TestServer(make_http_app(ctx, background=False))) as client:
        url = str(client.make_url("/"))
        args = _parse(["push", str(path), "--url", url])
        assert await asyncio.to_thread(args.baseline_run, args) == 0
        args = _parse(["push", str(path), "--url", url, "--version", "2.0.0"])
        assert await asyncio.to_thread(args.baseline_run, args) == 0
        # a model name with a slash travels percent-encoded in the path
        slashed = tmp_path / "slashed.json"
        slashed.write_text(make_baseline(n=200, model="team/fraud").to_json())
        args = _parse(["push", str(slashed), "--url", url])
        assert await asyncio.to_thread(args.baseline_run, args) == 0
        # the server refuses a schema it cannot read: exit 1 with its message
        bad = tmp_path / "bad.json"
        bad.write_text(baseline.to_json().replace('"schema_version": 1', '"schema_version": 99'))
        args = _parse(["push", str(bad), "--url", url])
        assert await asyncio.to_thread(args.baseline_run, args) == 1
    out = capsys.readouterr()
    assert "stored baseline of fraud version 1.0.0" in out.out
    assert [(i.model, i.version) for i in ctx.registry.list()] == [
        ("fraud", "1.0.0"),
        ("fraud", "2.0.0"),
        ("team/fraud", "1.0.0"),
    ]
    assert "otelml baseline push: 400: body: baseline schema_version 99" in out.err


def test_push_unreadable_file_and_no_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parse(["push", str(tmp_path / "missing.json")])
    assert args.baseline_run(args) == 1
    path = tmp_path / "b.json"
    path.write_text(make_baseline(n=200).to_json())
    args = _parse(["push", str(path), "--url", "http://127.0.0.1:9", "--timeout", "2"])
    assert args.baseline_run(args) == 1
    err = capsys.readouterr().err
    assert "not a readable baseline" in err
    assert "cannot reach" in err
