"""OTLP/gRPC receiver (grpc.aio): the Metrics, Trace and Logs ``Export`` services.

Requests are registered with raw-bytes deserializers so that an undecodable message is answered
with INVALID_ARGUMENT by us (gRPC's own deserializer failure would be INTERNAL). gzip request
compression is handled by gRPC. The receive limit is raised from gRPC's 4 MiB default (the
Collector's 8192-item batches can exceed it) to ``max_recv_msg_size_mib``; larger messages get
RESOURCE_EXHAUSTED from gRPC itself. A full write queue answers RESOURCE_EXHAUSTED with a
``google.rpc.RetryInfo`` detail: the Collector's exporter retries RESOURCE_EXHAUSTED only when
the server sends one.

With ingest or write tokens configured, a call needs ``authorization: Bearer <token>`` metadata
(what the Collector's ``bearertokenauth`` extension sends): UNAUTHENTICATED without a valid one,
PERMISSION_DENIED for a token of another scope, both counted before the message is decoded.
:func:`bind` listens in plain text or with TLS (client certificates required with a client CA).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

from otelml.processor.inflight import Overloaded
from otelml.processor.receive.otlp import BadRequest, Signal, decode_request
from otelml.processor.receive.otlp import response as otlp_response
from otelml.processor.receive.pipeline import Pipeline, Status
from otelml.processor.security import Tokens, Verdict

SERVICES: dict[str, Signal] = {
    "opentelemetry.proto.collector.metrics.v1.MetricsService": "metrics",
    "opentelemetry.proto.collector.trace.v1.TraceService": "traces",
    "opentelemetry.proto.collector.logs.v1.LogsService": "logs",
}


def _retry_metadata(message: str, retry_after_s: int) -> tuple[tuple[str, bytes], ...]:
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=retry_after_s))
    )
    status = status_pb2.Status(
        code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], message=message, details=[detail]
    )
    return (("grpc-status-details-bin", status.SerializeToString()),)


async def _authenticate(
    tokens: Tokens, pipeline: Pipeline, signal: Signal, context: grpc.aio.ServicerContext[Any, Any]
) -> None:
    metadata = context.invocation_metadata() or ()
    header = next((str(v) for k, v in metadata if k == "authorization"), None)
    verdict = tokens.check(header, "ingest")
    if verdict is Verdict.OK:
        return
    if verdict is Verdict.FORBIDDEN:
        pipeline.malformed(signal, "forbidden")
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, "the token lacks the ingest scope")
    pipeline.malformed(signal, "unauthenticated")
    what = "missing" if verdict is Verdict.MISSING else "not valid"
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"bearer token {what}")


def _handler(
    pipeline: Pipeline, signal: Signal, retry_after_s: int, tokens: Tokens | None
) -> Callable[[bytes, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]:
    protected = tokens is not None and tokens.protects("otlp")

    async def export(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if protected:
            assert tokens is not None
            await _authenticate(tokens, pipeline, signal, context)
        try:
            message = decode_request(signal, request, "protobuf")
        except BadRequest as exc:
            pipeline.malformed(signal)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        outcome = await pipeline.handle(signal, message)
        if outcome.status is Status.INVALID:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, outcome.message[:1024])
        if outcome.status is Status.BACKPRESSURE:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                outcome.message,
                trailing_metadata=_retry_metadata(outcome.message, retry_after_s),
            )
        if outcome.status is Status.UNAVAILABLE:
            await context.abort(grpc.StatusCode.UNAVAILABLE, outcome.message)
        return otlp_response(signal, outcome.partial)

    return _budgeted(pipeline, signal, retry_after_s, export)


def _budgeted(
    pipeline: Pipeline,
    signal: Signal,
    retry_after_s: int,
    export: Callable[[bytes, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]],
) -> Callable[[bytes, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]:
    """Hold each message (gRPC has decompressed it) against the in-flight budget meanwhile."""

    async def held(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        with pipeline.budget.hold() as hold:
            try:
                hold.take(len(request))
            except Overloaded as exc:
                pipeline.malformed(signal, "memory_budget")
                await context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    str(exc),
                    trailing_metadata=_retry_metadata(str(exc), retry_after_s),
                )
            return await export(request, context)

    return held


def make_grpc_server(
    pipeline: Pipeline,
    *,
    max_recv_mib: int,
    max_concurrent_streams: int,
    retry_after_s: int = 1,
    idle_timeout_s: float = 120.0,
    tokens: Tokens | None = None,
) -> grpc.aio.Server:
    """Return an unstarted grpc.aio server with the three OTLP services (:func:`bind`, start).

    ``tokens`` that protect ``otlp`` make every call present one of them.
    """
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_recv_mib * 1024 * 1024),
            ("grpc.max_concurrent_streams", max_concurrent_streams),
            ("grpc.max_connection_idle_ms", int(idle_timeout_s * 1000)),
        ]
    )
    handlers = []
    for service, signal in SERVICES.items():
        method = grpc.unary_unary_rpc_method_handler(
            _handler(pipeline, signal, retry_after_s, tokens),
            request_deserializer=None,
            response_serializer=lambda m: m.SerializeToString(),
        )
        handlers.append(grpc.method_handlers_generic_handler(service, {"Export": method}))
    server.add_generic_rpc_handlers(handlers)
    return server


def bind(
    server: grpc.aio.Server, address: str, tls: tuple[bytes, bytes, bytes | None] | None
) -> int:
    """Return the port bound at ``address``: plain text, or TLS from (key, cert, client CA) PEM.

    With a client CA, clients must present a certificate it signed (mutual TLS).
    """
    if tls is None:
        port: int = server.add_insecure_port(address)
        return port
    key, cert, client_ca = tls
    credentials = grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )
    port = server.add_secure_port(address, credentials)
    return port
