"""Who may talk to the processor: bearer tokens by scope, TLS contexts, same-origin checks.

A leaf that every listener uses: the OTLP receivers (``receive``) and the API (``api``) ask
:class:`~otelml.processor.security.tokens.Tokens` whether a request's token has the scope it
needs, the service builds its TLS contexts with :mod:`~otelml.processor.security.tls`, and the
HTTP listeners refuse foreign ``Host`` and ``Origin`` headers with
:mod:`~otelml.processor.security.origin`.
"""

from __future__ import annotations

from otelml.processor.security.origin import (
    HostPolicy,
    host_is_loopback,
    is_loopback_bind,
    same_origin,
)
from otelml.processor.security.tls import grpc_tls_files, server_ssl_context
from otelml.processor.security.tokens import Scope, Tokens, Verdict

__all__ = [
    "HostPolicy",
    "Scope",
    "Tokens",
    "Verdict",
    "grpc_tls_files",
    "host_is_loopback",
    "is_loopback_bind",
    "same_origin",
    "server_ssl_context",
]
