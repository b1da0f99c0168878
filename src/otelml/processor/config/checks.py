"""Checks of the security options: bearer-token syntax, token files, TLS certificates and keys.

The token parser lives here so that ``validate()`` and the running processor (which re-reads the
files, :mod:`otelml.processor.security.tokens`) accept exactly the same lines.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path

from otelml.processor.config.sections import AuthConfig, TlsServerConfig

SCOPES: tuple[str, ...] = ("ingest", "read", "write")
"""Token scopes, each with a ``<scope>_tokens`` and a ``<scope>_tokens_file`` option."""

_BEARER = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
"""RFC 6750's b64token: what may follow ``Bearer `` in an Authorization header."""


def is_token(text: str) -> bool:
    """Return whether ``text`` can be sent as a bearer token."""
    return _BEARER.fullmatch(text) is not None


def split_tokens(value: str) -> list[str]:
    """Return the tokens of a comma-separated option value (blanks dropped)."""
    return [t.strip() for t in value.split(",") if t.strip()]


def parse_token_file(text: str) -> tuple[list[str], list[int]]:
    """Return the tokens of a token file and the numbers of its lines that are not tokens.

    One token per line; surrounding whitespace, blank lines and ``#`` comment lines are ignored.
    """
    tokens: list[str] = []
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if is_token(line):
            tokens.append(line)
        else:
            bad.append(number)
    return tokens, bad


def auth_errors(auth: AuthConfig) -> list[str]:
    """Return the problems of the ``auth`` section, each prefixed by its option path."""
    errors: list[str] = []
    for scope in SCOPES:
        inline = getattr(auth, f"{scope}_tokens")
        if inline is not None:
            errors.extend(
                f"auth.{scope}_tokens: {token[:4]!r}... is not a bearer token "
                "(letters, digits, -._~+/ and trailing =)"
                for token in split_tokens(inline)
                if not is_token(token)
            )
        path = getattr(auth, f"{scope}_tokens_file")
        if path is None:
            continue
        option = f"auth.{scope}_tokens_file"
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{option}: cannot read {path!r}: {exc}")
            continue
        _, bad = parse_token_file(text)
        if bad:
            lines = ", ".join(map(str, bad))
            errors.append(f"{option}: {path!r} line {lines}: not a bearer token")
    return errors


def tls_errors(prefix: str, tls: TlsServerConfig) -> list[str]:
    """Return the problems of one listener's ``tls`` options (``prefix`` is their path)."""
    if tls.cert_file is None and tls.key_file is None:
        if tls.client_ca_file is not None:
            return [f"{prefix}.client_ca_file: needs {prefix}.cert_file and {prefix}.key_file"]
        return []
    if tls.cert_file is None or tls.key_file is None:
        missing = "cert_file" if tls.cert_file is None else "key_file"
        other = "key_file" if missing == "cert_file" else "cert_file"
        return [f"{prefix}.{missing}: required with {prefix}.{other}"]
    errors: list[str] = []
    for name in ("cert_file", "key_file", "client_ca_file"):
        path = getattr(tls, name)
        if path is not None and not Path(path).expanduser().is_file():
            errors.append(f"{prefix}.{name}: no such file {path!r}")
    if errors:
        return errors
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(Path(tls.cert_file).expanduser(), Path(tls.key_file).expanduser())
    except (ssl.SSLError, OSError) as exc:
        errors.append(
            f"{prefix}.cert_file: cannot use {tls.cert_file!r} with key {tls.key_file!r}: {exc}"
        )
    if tls.client_ca_file is not None:
        try:
            context.load_verify_locations(cafile=Path(tls.client_ca_file).expanduser())
        except (ssl.SSLError, OSError) as exc:
            errors.append(f"{prefix}.client_ca_file: cannot load {tls.client_ca_file!r}: {exc}")
    return errors
