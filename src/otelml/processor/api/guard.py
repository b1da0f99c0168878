"""Who may call the API: loopback Host names, same-origin JSON writes, bearer tokens by scope.

Checked in this order, before any handler runs:

1. Bound to loopback (the default), every route refuses a ``Host`` that is not a loopback name
   or address with 421: a DNS-rebinding page reaches 127.0.0.1 under its own name.
   ``export.prometheus.allowed_hosts`` adds names (and applies beyond loopback too).
2. State-changing routes (PUT, POST, DELETE) refuse a foreign ``Origin`` or a ``Sec-Fetch-Site``
   other than same-origin / none with 403: a page's cross-origin "simple" request.
3. With read or write tokens configured, every route but ``/healthz`` and ``/readyz`` needs
   ``Authorization: Bearer <token>``: 401 without a valid one, 403 when a read token tries to
   write (``WWW-Authenticate`` says which, RFC 6750).
4. State-changing routes take JSON bodies only (``application/json`` or ``+json``), else 415:
   an HTML form cannot send them, and a page's ``fetch`` cannot without a preflight, which the
   API never grants (no CORS). An empty body may carry any type (HTTP clients differ).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from otelml.processor.api.http import error_response
from otelml.processor.security import HostPolicy, Tokens, Verdict, same_origin
from otelml.processor.security.tokens import Scope

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
"""Probes: a kubelet or load balancer has no token."""
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
_SAME_SITE = frozenset({"same-origin", "none"})
REALM = 'Bearer realm="otelml"'


def _challenge(status: int, message: str, error: str | None, scope: Scope) -> web.Response:
    response = error_response(status, message, "Authorization")
    value = REALM
    if error is not None:
        value += f', error="{error}"'
    if error == "insufficient_scope":
        value += f', scope="{scope}"'
    response.headers["WWW-Authenticate"] = value
    return response


def refusal(request: web.Request, tokens: Tokens, hosts: HostPolicy) -> web.Response | None:
    """Return the answer refusing ``request``, or None when it may reach its handler."""
    if not hosts.allows(request.headers.get("Host")):
        return error_response(421, "this listener does not answer that host name", "Host")
    writes = request.method in WRITE_METHODS
    if writes:
        origin = request.headers.get("Origin")
        if origin is not None and not same_origin(origin, request.headers.get("Host")):
            return error_response(403, "cross-origin requests may not change state", "Origin")
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None and site.lower() not in _SAME_SITE:
            return error_response(403, "cross-site requests may not change state", "Sec-Fetch-Site")
    if tokens.protects("api") and request.path not in OPEN_PATHS:
        scope: Scope = "write" if writes else "read"
        verdict = tokens.check(request.headers.get("Authorization"), scope)
        if verdict is Verdict.MISSING:
            return _challenge(401, "a bearer token is required", None, scope)
        if verdict is Verdict.INVALID:
            return _challenge(401, "the bearer token is not valid", "invalid_token", scope)
        if verdict is Verdict.FORBIDDEN:
            return _challenge(
                403, f"the bearer token lacks the {scope} scope", "insufficient_scope", scope
            )
    if writes and request.body_exists:
        ctype = request.content_type
        if ctype != "application/json" and not ctype.endswith("+json"):
            return error_response(
                415, f"expected a JSON body (application/json), got {ctype!r}", "Content-Type"
            )
    return None


def make_guard(tokens: Tokens, hosts: HostPolicy) -> Callable[..., Any]:
    """Return the aiohttp middleware applying :func:`refusal` with ``tokens``."""

    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        refused = refusal(request, tokens, hosts)
        if refused is not None:
            return refused
        response: web.StreamResponse = await handler(request)
        return response

    return guard
