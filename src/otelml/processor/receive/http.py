"""OTLP/HTTP receiver (aiohttp): ``POST /v1/metrics``, ``/v1/traces``, ``/v1/logs``.

Bodies are ``application/x-protobuf`` or ``application/json`` (OTLP JSON), optionally
``Content-Encoding: gzip``; the answer uses the request's content type. Errors carry a
``google.rpc.Status`` body, as the OTLP specification asks: 400 for undecodable requests, 413 for
bodies over the limit, 415 for other content types, 503 with ``Retry-After`` when the write
queue is full (the Collector's otlphttp exporter retries 503 and honours Retry-After).

With ingest or write tokens configured, a request needs ``Authorization: Bearer <token>``: 401
with ``WWW-Authenticate: Bearer`` without a valid one, 403 for a token of another scope, both
counted and answered before the body is read. Bound to loopback, a request whose ``Host`` is not
a loopback name gets 421 (a DNS-rebinding web page); ``allowed_hosts`` adds names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from google.rpc import status_pb2  # type: ignore[import-untyped]

from otelml.processor.inflight import Hold, Overloaded
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
from otelml.processor.security import HostPolicy, Tokens, Verdict

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


# INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNAVAILABLE
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 413: 8, 415: 3, 421: 7, 503: 14}


def _error(
    status: int,
    message: str,
    encoding: Encoding,
    retry_after: int | None = None,
    challenge: str | None = None,
) -> web.Response:
    body = encode_message(
        status_pb2.Status(code=_GRPC_CODES.get(status, 2), message=message[:1024]), encoding
    )
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if challenge is not None:
        headers["WWW-Authenticate"] = challenge
    return web.Response(status=status, body=body, content_type=_MIME[encoding], headers=headers)


def _refusal(
    request: web.Request,
    signal: Signal,
    pipeline: Pipeline,
    tokens: Tokens | None,
    hosts: HostPolicy,
) -> web.Response | None:
    encoding = _CONTENT_TYPES.get(request.content_type, "json")
    if not hosts.allows(request.headers.get("Host")):
        pipeline.malformed(signal)
        return _error(421, "this listener does not answer that host name", encoding)
    if tokens is None or not tokens.protects("otlp"):
        return None
    verdict = tokens.check(request.headers.get("Authorization"), "ingest")
    if verdict is Verdict.OK:
        return None
    if verdict is Verdict.FORBIDDEN:
        pipeline.malformed(signal, "forbidden")
        challenge = 'Bearer realm="otelml", error="insufficient_scope", scope="ingest"'
        return _error(403, "the bearer token lacks the ingest scope", encoding, None, challenge)
    pipeline.malformed(signal, "unauthenticated")
    if verdict is Verdict.MISSING:
        return _error(401, "bearer token missing", encoding, None, 'Bearer realm="otelml"')
    challenge = 'Bearer realm="otelml", error="invalid_token"'
    return _error(401, "bearer token not valid", encoding, None, challenge)


def make_otlp_http_app(
    pipeline: Pipeline,
    *,
    max_body: int,
    retry_after_s: int = 1,
    tokens: Tokens | None = None,
    hosts: HostPolicy | None = None,
) -> web.Application:
    """Return the aiohttp application serving the three OTLP/HTTP paths.

    ``tokens`` that protect ``otlp`` make every request present one of them; ``hosts`` says
    which ``Host`` headers are answered (default: any).
    """
    host_policy = hosts or HostPolicy(None)

    def handler(signal: Signal) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            refused = _refusal(request, signal, pipeline, tokens, host_policy)
            if refused is not None:
                return refused
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
