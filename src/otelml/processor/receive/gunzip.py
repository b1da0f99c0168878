"""gzip bodies decoded a chunk at a time, within a size cap, a ratio cap and the budget.

A bomb is stopped at whichever comes first, before it is whole in memory.
"""

from __future__ import annotations

import zlib

from otelml.processor.inflight import Hold

_CHUNK = 1 << 20
_RATIO_FLOOR = 1 << 20
"""Bodies that decompress to less than this are never refused for their ratio."""


class BombError(ValueError):
    """A gzip body that expands past the size or ratio cap (answered 413 / RESOURCE_EXHAUSTED)."""


class BadGzip(ValueError):
    """A gzip body that does not decode (answered 400 / INVALID_ARGUMENT)."""


def gunzip(body: bytes, limit: int, *, max_ratio: float = 0.0, hold: Hold | None = None) -> bytes:
    """Return the gzip-decoded ``body``, a chunk at a time.

    Raises :class:`BombError` past ``limit`` output bytes or, beyond 1 MiB of output, past
    ``max_ratio`` times the compressed size (0: no ratio cap); :class:`Overloaded` when ``hold``
    cannot take the next chunk; :class:`BadGzip` for a broken or truncated stream.
    """
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    parts: list[bytes] = []
    produced = 0
    data = body
    ratio_cap = max_ratio * len(body) if max_ratio > 0 else float("inf")
    while True:
        try:
            chunk = d.decompress(data, _CHUNK)
        except zlib.error as exc:
            raise BadGzip(f"invalid gzip body: {exc}") from exc
        produced += len(chunk)
        if produced > limit:
            raise BombError(f"decompressed body exceeds {limit} bytes")
        if produced > _RATIO_FLOOR and produced > ratio_cap:
            raise BombError(
                f"gzip body expands more than {max_ratio:g} times its size (a compression bomb?)"
            )
        if hold is not None and chunk:
            hold.take(len(chunk))
        parts.append(chunk)
        data = d.unconsumed_tail
        if d.eof or (not data and not chunk):
            break
    if not d.eof:
        raise BadGzip("invalid gzip body: truncated")
    return b"".join(parts)
