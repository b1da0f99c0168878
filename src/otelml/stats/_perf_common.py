"""What the performance states share: the ``to_dict`` format version and array aliases."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

FORMAT_VERSION = 1
"""Version of the ``to_dict`` layout of every performance state; ``from_dict`` rejects others."""

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def check_format(d: Mapping[str, Any], type_name: str) -> None:
    """Raise ``ValueError`` unless ``d`` is a ``type_name`` dict of this format version."""
    if d.get("type") != type_name:
        raise ValueError(f"d: expected type {type_name!r}, got {d.get('type')!r}")
    if d.get("format") != FORMAT_VERSION:
        raise ValueError(f"d: unsupported format {d.get('format')!r} (expected {FORMAT_VERSION})")
