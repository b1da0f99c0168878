"""Bearer tokens by scope, from options and files, re-read when a file changes.

Scopes nest: a ``write`` token may do what ``read`` and ``ingest`` tokens may, and more. Every
check compares the presented token with every configured one by :func:`hmac.compare_digest`,
without stopping at a match, so that its time tells nothing about the tokens.

A token file is checked for a change (inode, size, modification time) at most every
``file_check_interval_s``; one that cannot be read any more keeps its last tokens (a secret being
swapped by its mount is briefly absent), logged once per failure.
"""

from __future__ import annotations

import enum
import hmac
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from otelml.processor.config.checks import SCOPES, parse_token_file, split_tokens
from otelml.processor.config.sections import AuthConfig

log = logging.getLogger(__name__)

Scope = Literal["ingest", "read", "write"]
Listener = Literal["otlp", "api"]

_GRANTS: dict[Scope, frozenset[str]] = {
    "ingest": frozenset({"ingest", "write"}),
    "read": frozenset({"read", "write"}),
    "write": frozenset({"write"}),
}
"""The scopes whose tokens may do what a scope needs."""

_PROTECTING: dict[Listener, frozenset[str]] = {
    "otlp": frozenset({"ingest", "write"}),
    "api": frozenset({"read", "write"}),
}
"""A listener requires a token once tokens of one of these scopes are configured."""


class Verdict(enum.Enum):
    """What a presented token may do."""

    OK = "ok"
    MISSING = "missing"
    """No ``Authorization: Bearer`` credential."""
    INVALID = "invalid"
    """A token that is not configured."""
    FORBIDDEN = "forbidden"
    """A configured token without the scope needed."""


@dataclass
class _TokenFile:
    path: Path
    tokens: tuple[bytes, ...] = ()
    stamp: tuple[int, int, int] | None = None
    failing: bool = False

    def refresh(self) -> None:
        try:
            st = os.stat(self.path)
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            if stamp == self.stamp:
                return
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            if not self.failing:
                log.warning(
                    "cannot read token file %s (%s): keeping its last tokens", self.path, exc
                )
            self.failing = True
            return
        tokens, bad = parse_token_file(text)
        if bad:
            log.warning("token file %s: lines %s are not bearer tokens, ignored", self.path, bad)
        self.tokens = tuple(t.encode("ascii") for t in tokens)
        self.stamp = stamp
        self.failing = False


@dataclass
class Tokens:
    """The processor's bearer tokens; :meth:`check` says what an Authorization header may do."""

    inline: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Tokens given in the options, by scope."""
    files: Mapping[str, Sequence[str | os.PathLike[str]]] = field(default_factory=dict)
    """Token files, by scope."""
    file_check_interval_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _inline: dict[str, tuple[bytes, ...]] = field(init=False, repr=False)
    _files: dict[str, list[_TokenFile]] = field(init=False, repr=False)
    _checked_at: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._inline = {s: tuple(t.encode("ascii") for t in self.inline.get(s, ())) for s in SCOPES}
        self._files = {
            s: [_TokenFile(Path(p).expanduser()) for p in self.files.get(s, ())] for s in SCOPES
        }

    @classmethod
    def from_config(
        cls, auth: AuthConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> Tokens:
        """Return the tokens that the ``auth`` options configure."""
        inline: dict[str, list[str]] = {}
        files: dict[str, list[str]] = {}
        for scope in SCOPES:
            value = getattr(auth, f"{scope}_tokens")
            if value is not None:
                inline[scope] = split_tokens(value)
            path = getattr(auth, f"{scope}_tokens_file")
            if path is not None:
                files[scope] = [path]
        return cls(inline, files, file_check_interval_s=auth.file_check_interval_s, clock=clock)

    def configured(self, scope: str) -> bool:
        """Return whether tokens of ``scope`` are configured (even if none is valid now)."""
        return bool(self._inline[scope] or self._files[scope])

    def protects(self, listener: Listener) -> bool:
        """Return whether ``listener`` requires a token (``otlp`` or ``api``)."""
        return any(self.configured(s) for s in _PROTECTING[listener])

    def check(self, authorization: str | None, scope: Scope) -> Verdict:
        """Return what an ``Authorization`` header (or gRPC metadata) may do for ``scope``."""
        token = bearer(authorization)
        if token is None:
            return Verdict.MISSING
        self._refresh()
        presented = token.encode("utf-8")
        held: set[str] = set()
        for s in SCOPES:
            match = False
            for known in self._inline[s] + tuple(t for f in self._files[s] for t in f.tokens):
                # no early exit: the time taken must not depend on which token matched
                match |= hmac.compare_digest(presented, known)
            if match:
                held.add(s)
        if not held:
            return Verdict.INVALID
        return Verdict.OK if held & _GRANTS[scope] else Verdict.FORBIDDEN

    def _refresh(self) -> None:
        now = self.clock()
        if self._checked_at is not None and now - self._checked_at < self.file_check_interval_s:
            return
        self._checked_at = now
        for files in self._files.values():
            for f in files:
                f.refresh()


def bearer(authorization: str | None) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
