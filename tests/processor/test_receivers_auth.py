"""The running service's three listeners with bearer tokens and TLS (mutual TLS included)."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp import ClientSession

import pki
from otelml.processor.config import config_from_dict
from otelml.processor.service import ProcessorService

from .otlpdata import metrics_request, model_attrs, sum_metric

PB = "application/x-protobuf"
METRICS_EXPORT = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
INGEST, WRITE, READ = "collector-token", "admin-token", "dashboard-token"
BODY = metrics_request(
    sum_metric("ml.feature.missing", [(model_attrs(feature="a"), 2)])
).SerializeToString()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> pki.Pki:
    return pki.make_pki(tmp_path_factory.mktemp("pki"))


Start = Callable[..., Any]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    """Return an async factory of started services with extra options, all stopped after."""
    started: list[ProcessorService] = []

    async def make(options: Mapping[str, Any]) -> ProcessorService:
        data: dict[str, Any] = {
            "storage": {"path": str(tmp_path / f"{len(started)}.db")},
            "receivers": {
                "grpc": {"endpoint": "127.0.0.1:0"},
                "http": {"endpoint": "127.0.0.1:0"},
            },
            "export": {"prometheus": {"endpoint": "127.0.0.1:0"}},
        }
        for section, values in options.items():
            if section in ("receivers", "export"):
                for name, more in values.items():
                    data[section][name] = {**data[section][name], **more}
            else:
                data[section] = values
        svc = ProcessorService(config_from_dict(data), announce=lambda _: None)
        started.append(svc)
        await svc.start()
        return svc

    yield make
    for svc in started:
        await svc.stop(0)


def _hostport(url: str) -> str:
    return url.split("://", 1)[1]


async def _grpc_export(
    target: str, metadata: tuple[tuple[str, str], ...] = (), creds: Any = None
) -> grpc.StatusCode:
    channel = grpc.aio.secure_channel(target, creds) if creds else grpc.aio.insecure_channel(target)
    async with channel:
        call = channel.unary_unary(METRICS_EXPORT, request_serializer=None)
        try:
            await call(BODY, metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def _rejected(svc: ProcessorService) -> dict[tuple[str, str], int]:
    return svc.telemetry.snapshot().rejected


AUTH = {"auth": {"ingest_tokens": INGEST, "write_tokens": WRITE, "read_tokens": READ}}


async def test_grpc_needs_an_ingest_or_write_token(start: Start) -> None:
    svc = await start(AUTH)
    target = _hostport(svc.addresses["otlp-grpc"])
    assert await _grpc_export(target) == grpc.StatusCode.UNAUTHENTICATED
    wrong = (("authorization", "Bearer nope"),)
    assert await _grpc_export(target, wrong) == grpc.StatusCode.UNAUTHENTICATED
    read = (("authorization", f"Bearer {READ}"),)
    assert await _grpc_export(target, read) == grpc.StatusCode.PERMISSION_DENIED
    for token in (INGEST, WRITE):
        ok = (("authorization", f"Bearer {token}"),)
        assert await _grpc_export(target, ok) == grpc.StatusCode.OK
    assert _rejected(svc) == {("metrics", "unauthenticated"): 2, ("metrics", "forbidden"): 1}
    assert sum(w.missing for w in svc.aggregator.totals().values()) == 4


async def test_http_needs_an_ingest_or_write_token(start: Start) -> None:
    svc = await start(AUTH)
    url = svc.addresses["otlp-http"] + "/v1/metrics"
    async with ClientSession() as s:
        async with s.post(url, data=BODY, headers={"Content-Type": PB}) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        headers = {"Content-Type": PB, "Authorization": f"Bearer {READ}"}
        async with s.post(url, data=BODY, headers=headers) as resp:
            assert resp.status == 403
        for token in (INGEST, WRITE):
            headers = {"Content-Type": PB, "Authorization": f"Bearer {token}"}
            async with s.post(url, data=BODY, headers=headers) as resp:
                assert resp.status == 200
    assert _rejected(svc) == {("metrics", "unauthenticated"): 1, ("metrics", "forbidden"): 1}


async def test_http_receiver_refuses_foreign_host_on_loopback(start: Start) -> None:
    svc = await start({})
    url = svc.addresses["otlp-http"] + "/v1/metrics"
    async with ClientSession() as s:
        headers = {"Content-Type": PB, "Host": "evil.example:4318"}
        async with s.post(url, data=BODY, headers=headers) as resp:
            assert resp.status == 421
        async with s.post(url, data=BODY, headers={"Content-Type": PB}) as resp:
            assert resp.status == 200


def _tls(certs: pki.Pki, mutual: bool) -> dict[str, str]:
    tls = {"cert_file": str(certs.server_cert), "key_file": str(certs.server_key)}
    if mutual:
        tls["client_ca_file"] = str(certs.ca)
    return tls


def _tls_options(certs: pki.Pki, mutual: bool) -> dict[str, Any]:
    tls = _tls(certs, mutual)
    return {
        "receivers": {"grpc": {"tls": tls}, "http": {"tls": tls}},
        "export": {"prometheus": {"tls": tls}},
    }


def _client_ssl(certs: pki.Pki, with_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs.ca))
    if with_cert:
        context.load_cert_chain(str(certs.client_cert), str(certs.client_key))
    return context


async def test_tls_on_every_listener_with_a_token(start: Start, certs: pki.Pki) -> None:
    svc = await start({**_tls_options(certs, mutual=False), **AUTH})
    assert svc.addresses["otlp-grpc"].startswith("grpcs://")
    assert svc.addresses["otlp-http"].startswith("https://")
    assert svc.addresses["metrics"].startswith("https://")
    creds = grpc.ssl_channel_credentials(root_certificates=certs.ca.read_bytes())
    target = _hostport(svc.addresses["otlp-grpc"])
    token = (("authorization", f"Bearer {INGEST}"),)
    assert await _grpc_export(target, token, creds) == grpc.StatusCode.OK
    assert await _grpc_export(target, (), creds) == grpc.StatusCode.UNAUTHENTICATED
    # plain text to a TLS port gets no answer
    assert await _grpc_export(target, token) == grpc.StatusCode.UNAVAILABLE
    tls = _client_ssl(certs, with_cert=False)
    async with ClientSession() as s:
        headers = {"Content-Type": PB, "Authorization": f"Bearer {INGEST}"}
        url = svc.addresses["otlp-http"] + "/v1/metrics"
        async with s.post(url, data=BODY, headers=headers, ssl=tls) as resp:
            assert resp.status == 200
        url = svc.addresses["metrics"] + "/metrics"
        async with s.get(url, headers={"Authorization": f"Bearer {READ}"}, ssl=tls) as resp:
            assert resp.status == 200
        async with s.get(svc.addresses["metrics"] + "/healthz", ssl=tls) as resp:
            assert resp.status == 200


async def test_mutual_tls_refuses_clients_without_a_certificate(
    start: Start, certs: pki.Pki
) -> None:
    svc = await start(_tls_options(certs, mutual=True))
    ca = certs.ca.read_bytes()
    target = _hostport(svc.addresses["otlp-grpc"])
    anonymous = grpc.ssl_channel_credentials(root_certificates=ca)
    assert await _grpc_export(target, (), anonymous) == grpc.StatusCode.UNAVAILABLE
    client = grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=certs.client_key.read_bytes(),
        certificate_chain=certs.client_cert.read_bytes(),
    )
    assert await _grpc_export(target, (), client) == grpc.StatusCode.OK
    async with ClientSession() as s:
        for name, path in (("otlp-http", "/v1/metrics"), ("metrics", "/healthz")):
            url = svc.addresses[name] + path
            with pytest.raises(aiohttp.ClientError):
                async with s.post(
                    url, data=BODY, headers={"Content-Type": PB},
                    ssl=_client_ssl(certs, with_cert=False),
                ) as resp:  # fmt: skip
                    await resp.read()
        url = svc.addresses["otlp-http"] + "/v1/metrics"
        async with s.post(
            url, data=BODY, headers={"Content-Type": PB}, ssl=_client_ssl(certs, with_cert=True)
        ) as resp:
            assert resp.status == 200


async def test_listeners_beyond_loopback_without_tokens_are_warned_about(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="otelml.processor.service"):
        await start(
            {
                "receivers": {"grpc": {"endpoint": "0.0.0.0:0"}},
                "auth": {"read_tokens": READ},
                "export": {"prometheus": {"endpoint": "0.0.0.0:0"}},
            }
        )
    warned = [r.getMessage() for r in caplog.records if "without bearer tokens" in r.getMessage()]
    assert len(warned) == 1
    assert warned[0].startswith("OTLP/gRPC listen beyond loopback (0.0.0.0:0)")
