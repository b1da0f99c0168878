"""The real Collector authenticates to a real ``otelml serve``: bearer token over mutual TLS.

collector/configs/processor-auth.yaml on top of fanout.yaml, with a CA made by openssl in the
test's directory: the processor's telemetry arrives; a Collector with a stolen-looking token is
refused, the Collector logs it and the processor counts it.
"""

from __future__ import annotations

import json
import re
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pki

from .conftest import ManagedProcess, ProcessManager, wait_until
from .test_collector_configs import ARRIVAL_TIMEOUT_S, send_telemetry

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1900)]

INGEST_TOKEN = "collector-token-2"
READ_TOKEN = "dashboard-token"


def _get(url: str, tls: ssl.SSLContext, token: str | None) -> tuple[int, bytes]:
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5, context=tls) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _serve(
    processes: ProcessManager, tmp_path: Path, certs: pki.Pki
) -> tuple[ManagedProcess, dict[str, str]]:
    tokens = tmp_path / "ingest-tokens"
    # mid-rotation: the old token is still listed beside the one the Collector has
    tokens.write_text(f"# ingest tokens of the Collectors\ncollector-token-1\n{INGEST_TOKEN}\n")
    tls = {"CERT_FILE": certs.server_cert, "KEY_FILE": certs.server_key}
    env = {
        "OTELML_STORAGE__PATH": str(tmp_path / "otelml.db"),
        "OTELML_RECEIVERS__GRPC__ENDPOINT": "127.0.0.1:0",
        "OTELML_RECEIVERS__HTTP__ENABLED": "false",
        "OTELML_EXPORT__PROMETHEUS__ENDPOINT": "127.0.0.1:0",
        "OTELML_AUTH__INGEST_TOKENS_FILE": str(tokens),
        "OTELML_AUTH__READ_TOKENS": READ_TOKEN,
        "OTELML_RECEIVERS__GRPC__TLS__CLIENT_CA_FILE": str(certs.ca),
        **{f"OTELML_RECEIVERS__GRPC__TLS__{k}": str(v) for k, v in tls.items()},
        **{f"OTELML_EXPORT__PROMETHEUS__TLS__{k}": str(v) for k, v in tls.items()},
        "PYTHONUNBUFFERED": "1",
    }
    log = processes.log_dir / "otelml.log"
    proc = processes.start(
        "otelml",
        [sys.executable, "-m", "otelml", "serve"],
        env=env,
        ready=lambda: "otelml: ready" in (log.read_text() if log.exists() else ""),
        timeout=60,
    )
    return proc, dict(re.findall(r"otelml: (\S+) listening on (\S+)", proc.log_text()))


def _counter(metrics: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_collector_sends_to_otelml_serve_with_a_token_over_mutual_tls(
    start_collector: Callable[..., Any], processes: ProcessManager, tmp_path: Path
) -> None:
    certs = pki.make_pki(tmp_path / "pki")
    serve, addresses = _serve(processes, tmp_path, certs)
    assert addresses["otlp-grpc"].startswith("grpcs://")
    endpoint = addresses["otlp-grpc"].removeprefix("grpcs://")
    api = addresses["metrics"]
    client_tls = ssl.create_default_context(cafile=str(certs.ca))
    assert _get(api + "/api/v1/models", client_tls, None)[0] == 401

    mtls = {
        "OTELML_PROCESSOR_ENDPOINT": endpoint,
        "OTELML_PROCESSOR_CA_FILE": str(certs.ca),
        "OTELML_PROCESSOR_CLIENT_CERT_FILE": str(certs.client_cert),
        "OTELML_PROCESSOR_CLIENT_KEY_FILE": str(certs.client_key),
    }
    collector = start_collector(
        "fanout.yaml", "processor-auth.yaml", env={**mtls, "OTELML_PROCESSOR_TOKEN": INGEST_TOKEN}
    )
    send_telemetry(collector.otlp_grpc, ["fraud"])

    def metrics() -> str:
        status, body = _get(api + "/metrics", client_tls, READ_TOKEN)
        assert status == 200, body
        return body.decode()

    wait_until(
        lambda: all(
            _counter(metrics(), "otelml_processor_accepted_total", signal=s) > 0
            for s in ("metrics", "traces", "logs")
        ),
        timeout=ARRIVAL_TIMEOUT_S,
        what="the Collector's metrics, spans and logs at otelml serve",
        alive=lambda: collector.process.exit_text() or serve.exit_text(),
    )
    status, body = _get(api + "/api/v1/models", client_tls, READ_TOKEN)
    assert status == 200
    assert [m["model"] for m in json.loads(body)["models"]] == ["fraud"]

    intruder = start_collector(
        "fanout.yaml", "processor-auth.yaml", env={**mtls, "OTELML_PROCESSOR_TOKEN": "guessed"}
    )
    send_telemetry(intruder.otlp_grpc, ["intruder"])
    wait_until(
        lambda: (
            _counter(
                metrics(),
                "otelml_processor_rejected_total",
                signal="metrics",
                reason="unauthenticated",
            )
            > 0
        ),
        timeout=ARRIVAL_TIMEOUT_S,
        what="otelml serve to count the intruder's refused export",
        alive=lambda: intruder.process.exit_text() or serve.exit_text(),
    )
    wait_until(
        lambda: "Unauthenticated" in intruder.process.log_text(),
        timeout=ARRIVAL_TIMEOUT_S,
        what="the intruding Collector to log the refusal",
    )
    status, body = _get(api + "/api/v1/models", client_tls, READ_TOKEN)
    assert [m["model"] for m in json.loads(body)["models"]] == ["fraud"]


def test_collector_without_a_client_certificate_is_refused_by_mutual_tls(
    start_collector: Callable[..., Any], processes: ProcessManager, tmp_path: Path
) -> None:
    certs = pki.make_pki(tmp_path / "pki")
    serve, addresses = _serve(processes, tmp_path, certs)
    collector = start_collector(
        "fanout.yaml",
        "processor-auth.yaml",
        env={
            "OTELML_PROCESSOR_ENDPOINT": addresses["otlp-grpc"].removeprefix("grpcs://"),
            "OTELML_PROCESSOR_CA_FILE": str(certs.ca),
            "OTELML_PROCESSOR_TOKEN": INGEST_TOKEN,
        },
    )
    send_telemetry(collector.otlp_grpc, ["fraud"])
    # With TLS 1.3 the server checks the client's certificate after the client's handshake
    # is done: the Collector sees the connection closed and retries (data stays queued).
    wait_until(
        lambda: "code = Unavailable" in _export_errors(collector.process),
        timeout=ARRIVAL_TIMEOUT_S,
        what="the Collector to log the refused connection",
        alive=serve.exit_text,
    )
    client_tls = ssl.create_default_context(cafile=str(certs.ca))
    status, body = _get(addresses["metrics"] + "/api/v1/models", client_tls, READ_TOKEN)
    assert status == 200
    assert json.loads(body)["models"] == []


def _export_errors(proc: ManagedProcess) -> str:
    return "\n".join(
        line
        for line in proc.log_text().splitlines()
        if "otlp_grpc/otelml" in line and "rror" in line
    )
