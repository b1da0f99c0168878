"""OTLP/HTTP receiver (aiohttp): ``POST /v1/metrics``, ``/v1/traces``, ``/v1/logs``.

Bodies are ``application/x-protobuf`` or ``application/json`` (OTLP JSON), optionally
``Content-Encoding: gzip``; the answer uses the request's content type. Errors carry a
``google.rpc.Status`` body, as the OTLP specification asks: 400 for undecodable requests, 413 for
bodies over the limit, 415 for other content types, 503 with ``Retry-After`` when the write
queue is full (the Collector's otlphttp exporter retries 503 and honours Retry-After).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from google.rpc import status_pb2  # type: ignore[import-untyped]

from otelml.processor.receive.budget import Hold, Overloaded
from otelml.processor.receive.otlp import (
    BadRequest,
    Encoding,
    Signal,
    TooLarge,
    decode_request,
    gunzip,
)
from otelml.processor.receive.otlp import encode as encode_message
from otelml.processor.receive.otlp import response as otlp_response
from otelml.processor.receive.pipeline import Pipeline, Status

_CONTENT_TYPES: dict[str, Encoding] = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}
_MIME = {"protobuf": "application/x-protobuf", "json": "application/json"}
_HOLD = web.RequestKey("otelml_hold", Hold)
_SIGNALS: dict[str, Signal] = {"/v1/metrics": "metrics", "/v1/traces": "traces", "/v1/logs": "logs"}


def _signal_of(path: str) -> Signal:
    return _SIGNALS.get(path, "metrics")


_GRPC_CODES = {400: 3, 413: 8, 415: 3, 503: 14}  # INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE


def _error(
    status: int, message: str, encoding: Encoding, retry_after: int | None = None
) -> web.Response:
    body = encode_message(
        status_pb2.Status(code=_GRPC_CODES.get(status, 2), message=message[:1024]), encoding
    )
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.Response(status=status, body=body, content_type=_MIME[encoding], headers=headers)


def make_otlp_http_app(
    pipeline: Pipeline, *, max_body: int, retry_after_s: int = 1
) -> web.Application:
    """Return the aiohttp application serving the three OTLP/HTTP paths."""

    def handler(signal: Signal) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            encoding = _CONTENT_TYPES.get(request.content_type)
            if encoding is None:
                pipeline.malformed(signal)
                return _error(415, f"unsupported content type {request.content_type!r}", "json")
            if request.content_length is not None and request.content_length > max_body:
                pipeline.malformed(signal, "too_large")
                return _error(413, f"body exceeds {max_body} bytes", encoding)
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                pipeline.malformed(signal, "too_large")
                return _error(413, f"body exceeds {max_body} bytes", encoding)
            hold: Hold = request[_HOLD]
            if request.content_length is None:  # chunked: held once read
                hold.take(len(body))
            content_encoding = request.headers.get("Content-Encoding", "").strip().lower()
            try:
                if content_encoding == "gzip":
                    body = gunzip(body, max_body, max_ratio=pipeline.max_gzip_ratio, hold=hold)
                elif content_encoding not in ("", "identity"):
                    raise BadRequest(f"unsupported Content-Encoding {content_encoding!r}")
                message = decode_request(signal, body, encoding)
            except TooLarge as exc:
                pipeline.malformed(signal, "too_large")
                return _error(413, str(exc), encoding)
            except BadRequest as exc:
                pipeline.malformed(signal)
                return _error(400, str(exc), encoding)
            outcome = await pipeline.handle(signal, message)
            if outcome.status is Status.INVALID:
                return _error(400, outcome.message, encoding)
            if outcome.status is Status.BACKPRESSURE:
                return _error(503, outcome.message, encoding, retry_after=retry_after_s)
            if outcome.status is Status.UNAVAILABLE:
                return _error(503, outcome.message, encoding, retry_after=retry_after_s)
            body_out = encode_message(otlp_response(signal, outcome.partial), encoding)
            return web.Response(body=body_out, content_type=_MIME[encoding])

        return handle

    @web.middleware
    async def budgeted(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # Every body is held against the in-flight budget before it is read, and its gunzipped
        # form as it is produced; the hold is given back when the answer is made.
        with pipeline.budget.hold() as hold:
            try:
                hold.take(min(request.content_length or 0, max_body))
                request[_HOLD] = hold
                return await handler(request)
            except Overloaded as exc:
                pipeline.malformed(_signal_of(request.path), "memory_budget")
                encoding = _CONTENT_TYPES.get(request.content_type, "json")
                return _error(503, str(exc), encoding, retry_after=retry_after_s)

    # aiohttp refuses larger bodies itself (413) before reading them into memory.
    app = web.Application(client_max_size=max_body, middlewares=[budgeted])
    app.router.add_post("/v1/metrics", handler("metrics"))
    app.router.add_post("/v1/traces", handler("traces"))
    app.router.add_post("/v1/logs", handler("logs"))
    return app
