"""A tiny, seeded reference/current dataset pair with known drift, for demos and tests.

Generated at run time (no data files in the package). ``income`` drifts by a mean shift and
``country`` by a new category (``BR``); every other column is drawn from the same distribution
in both frames.
"""

from __future__ import annotations

import numpy as np

DRIFTED_FEATURES: tuple[str, ...] = ("income", "country")
"""Features that drift between the reference and current frames."""
STABLE_FEATURES: tuple[str, ...] = ("age", "tenure_months", "device", "is_member")
"""Features drawn from one distribution in both frames."""

_COUNTRIES = ("US", "DE", "FR", "GB", "IN")
_COUNTRY_P = (0.4, 0.2, 0.15, 0.15, 0.1)
_DEVICES = ("ios", "android", "web")
_DEVICE_P = (0.45, 0.35, 0.2)


def _frame(rng: np.random.Generator, n: int, *, drifted: bool) -> dict[str, np.ndarray]:
    age = np.round(np.clip(rng.normal(40.0, 12.0, n), 18, 90))
    age[rng.random(n) < 0.01] = np.nan  # a little dirt, the same in both frames
    income = rng.lognormal(10.9 if drifted else 10.5, 0.5, n)
    country = rng.choice(_COUNTRIES, size=n, p=_COUNTRY_P).astype(object)
    if drifted:
        country[rng.random(n) < 0.2] = "BR"
    device = rng.choice(_DEVICES, size=n, p=_DEVICE_P).astype(object)
    device[rng.random(n) < 0.02] = None
    return {
        "age": age,
        "income": income,
        "tenure_months": rng.poisson(24, n).astype(np.int64),
        "country": country,
        "device": device,
        "is_member": rng.random(n) < 0.3,
    }


def example_frames(
    seed: int = 0, *, n_reference: int = 5000, n_current: int = 2000
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Return ``(reference, current)`` dicts of columns; see the module docstring for the drift."""
    rng = np.random.default_rng(seed)
    return _frame(rng, n_reference, drifted=False), _frame(rng, n_current, drifted=True)
