"""Same-origin and loopback checks of HTTP requests (cross-site requests, DNS rebinding).

A web page the operator visits can make the browser send requests to a listener on loopback: a
"simple" cross-origin POST (no preflight) carries an ``Origin`` header naming the page, and a
DNS-rebinding page, same-origin by its own name, carries that name in ``Host``. A listener bound
to loopback therefore accepts only loopback ``Host`` names (a listener bound beyond loopback, e.g.
in a container whose port is published on the host's loopback, can be told the same with
``allowed_hosts``), and state-changing requests only an ``Origin`` equal to the ``Host`` they
were sent to.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _is_loopback_name(host: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_bind(endpoint: str) -> bool:
    """Return whether ``host:port`` listens on loopback only."""
    host = endpoint.rpartition(":")[0]
    return _is_loopback_name(host)


def _split_host(value: str) -> tuple[str, str | None]:
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        return value, None
    return host, port


def host_is_loopback(host_header: str | None) -> bool:
    """Return whether a ``Host`` header names a loopback host (a missing header passes)."""
    if host_header is None:
        return True  # only non-browser clients (HTTP/1.0) leave it out
    host, _ = _split_host(host_header)
    return bool(host) and _is_loopback_name(host)


def same_origin(origin: str, host_header: str | None) -> bool:
    """Return whether ``Origin`` names the host and port that ``Host`` addresses."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or host_header is None:
        return False  # "null" (sandboxed pages, file:) or something stranger
    origin_port = str(parts.port) if parts.port is not None else _DEFAULT_PORTS[parts.scheme]
    host, port = _split_host(host_header)
    return host == parts.hostname.lower() and (port or _DEFAULT_PORTS[parts.scheme]) == origin_port


@dataclass(frozen=True)
class HostPolicy:
    """The ``Host`` names a listener answers: loopback names plus ``names``; any if None."""

    names: frozenset[str] | None = frozenset()

    @classmethod
    def for_listener(cls, endpoint: str, allowed_hosts: str | None) -> HostPolicy:
        """Return the policy of a listener bound to ``endpoint`` with ``allowed_hosts``."""
        if allowed_hosts is not None:
            names = (n.strip().lower().rstrip(".") for n in allowed_hosts.split(","))
            return cls(frozenset(n for n in names if n))
        return cls(frozenset() if is_loopback_bind(endpoint) else None)

    def allows(self, host_header: str | None) -> bool:
        """Return whether a request with this ``Host`` header may be answered."""
        if self.names is None or host_is_loopback(host_header):
            return True
        assert host_header is not None  # a missing header is loopback-compatible
        host, _ = _split_host(host_header)
        return host.rstrip(".") in self.names
