"""Processor configuration: defaults, YAML + environment, errors by path, the doc table."""

from __future__ import annotations

from pathlib import Path

import pytest

from otelml.cli import main
from otelml.processor.config import (
    ConfigError,
    ProcessorConfig,
    config_from_dict,
    load_config,
    options_table,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "processor.md"


def test_defaults_bind_loopback_and_validate() -> None:
    c = load_config(environ={})
    assert c == ProcessorConfig()
    assert c.validate() == []
    assert c.receivers.grpc.endpoint == "127.0.0.1:4317"
    assert c.receivers.http.endpoint == "127.0.0.1:4318"
    assert c.export.prometheus.endpoint == "127.0.0.1:9464"
    assert c.receivers.grpc.max_recv_msg_size_mib == 64
    assert c.export.otlp.endpoint is None
    assert c.db_path().name == "otelml.db"
    assert (c.evaluation.interval_s, c.evaluation.window_s, c.state.resolution_s) == (60, 3600, 60)


def test_yaml_then_environment(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(
        "receivers:\n  grpc:\n    endpoint: 0.0.0.0:5317\n"
        "storage:\n  path: /data/x.db\n"
        "evaluation:\n  models:\n    fraud: {window_s: 600}\n"
    )
    env = {
        "OTELML_STORAGE__PATH": "/other.db",
        "OTELML_EXPORT__OTLP__ENDPOINT": "localhost:4317",
        "OTELML_STATE__RETENTION_S": "7200",
        "OTELML_DEBUG": "1",  # no section: not ours
    }
    c = load_config(f, environ=env)
    assert c.receivers.grpc.endpoint == "0.0.0.0:5317"
    assert c.storage.path == "/other.db"
    assert c.export.otlp.endpoint == "localhost:4317"
    assert c.state.retention_s == 7200
    assert c.model_window_s("fraud") == 600
    assert c.model_window_s("other") == 3600
    assert c.model_interval_s("fraud") == 60


def test_every_error_is_listed_by_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_dict(
            {
                "receivers": {"grpc": {"endpoint": "nope", "bogus": 1}},
                "storage": {"synchronous": "sometimes", "queue_size": 0},
                "state": {"resolution_s": "sixty"},
                "drift": {"fdr_alpha": 2.0},
                "evaluation": {"models": {"fraud": {"window_s": -5}}},
                "extra": {},
            }
        )
    errors = err.value.errors
    for expected in (
        "receivers.grpc.endpoint: expected host:port, got 'nope'",
        "receivers.grpc.bogus: unknown option",
        "storage.synchronous: expected one of full, normal, got 'sometimes'",
        "storage.queue_size: must be > 0, got 0",
        "state.resolution_s: expected an integer, got 'sixty'",
        "drift.fdr_alpha: must be in (0, 1), got 2.0",
        "evaluation.models.fraud.window_s: must be > 0, got -5",
        "extra: unknown option",
    ):
        assert expected in errors
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n")
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_config(bad, environ={})


def test_serve_reports_config_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("receivers: {http: {endpoint: ':x'}}\n")
    assert main(["serve", "--config", str(f)]) == 2
    assert "receivers.http.endpoint: expected host:port" in capsys.readouterr().err
    f.write_text("storage: {path: " + str(tmp_path / "a.db") + "}\n")
    assert main(["serve", "--config", str(f), "--check"]) == 0


def test_docs_hold_exactly_the_generated_option_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    begin, end = "<!-- options:begin -->\n", "<!-- options:end -->"
    table = text[text.index(begin) + len(begin) : text.index(end)]
    assert table == options_table()
    assert table.count("\n| `") == len(table.splitlines()) - 2  # one row per option
