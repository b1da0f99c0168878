"""A minimal PNG reader (8-bit RGB/RGBA, not interlaced: what Chromium writes), numpy + zlib."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(data: bytes) -> np.ndarray:
    """Return the image as a ``(height, width, channels)`` uint8 array."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat = 8, []
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or color not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG: depth {depth}, colour type {color}")
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], np.frombuffer(raw, np.uint8, stride, start + 1).astype(np.int64)
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + prev) & 0xFF
        elif kind == 1:
            row = line.copy()
            for x in range(channels, stride):
                row[x] = (row[x] + row[x - channels]) & 0xFF
        else:
            row = line.tolist()
            up = prev.tolist()
            for x in range(stride):
                left = row[x - channels] if x >= channels else 0
                if kind == 3:
                    row[x] = (row[x] + (left + up[x]) // 2) & 0xFF
                else:
                    ul = up[x - channels] if x >= channels else 0
                    row[x] = (row[x] + _paeth(left, up[x], ul)) & 0xFF
            row = np.asarray(row, dtype=np.int64)
        out[y] = row
        prev = row
    return out.reshape(height, width, channels)
