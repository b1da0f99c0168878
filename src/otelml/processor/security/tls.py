"""TLS of the listeners: an :class:`ssl.SSLContext` for aiohttp, PEM bytes for gRPC.

A listener with ``client_ca_file`` requires a client certificate signed by it (mutual TLS);
without one the handshake fails. TLS 1.2 is the oldest version accepted.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from otelml.processor.config.sections import TlsServerConfig


def enabled(tls: TlsServerConfig) -> bool:
    """Return whether ``tls`` turns TLS on."""
    return tls.cert_file is not None


def server_ssl_context(tls: TlsServerConfig) -> ssl.SSLContext | None:
    """Return the server context of ``tls``, or None when TLS is off."""
    if tls.cert_file is None or tls.key_file is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(Path(tls.cert_file).expanduser(), Path(tls.key_file).expanduser())
    if tls.client_ca_file is not None:
        context.load_verify_locations(cafile=Path(tls.client_ca_file).expanduser())
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def grpc_tls_files(tls: TlsServerConfig) -> tuple[bytes, bytes, bytes | None] | None:
    """Return (private key, certificate chain, client CA or None) as PEM, or None when off."""
    if tls.cert_file is None or tls.key_file is None:
        return None
    key = Path(tls.key_file).expanduser().read_bytes()
    cert = Path(tls.cert_file).expanduser().read_bytes()
    ca = None
    if tls.client_ca_file is not None:
        ca = Path(tls.client_ca_file).expanduser().read_bytes()
    return key, cert, ca
