"""The one place where otelml swallows its own errors, counts them and logs each kind once.

Three zones protect the host (see docs/instrumentation.md): setup before the model call and
recording after it run under :func:`guarded`-style ``try`` blocks that end in :meth:`Guard.error`;
the model's own exceptions never pass through here.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

_logger = logging.getLogger("otelml")

ErrorHook = Callable[[str, BaseException], None]


class Guard:
    """Counts swallowed errors and drops by kind; logs the first error of each kind once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: dict[str, int] = {}
        self._dropped: dict[str, int] = {}
        self._errors_total: dict[str, int] = {}
        self._dropped_total: dict[str, int] = {}
        self._logged: set[str] = set()
        self._hooks: list[ErrorHook] = []

    def error(self, kind: str, exc: BaseException) -> None:
        """Record a swallowed error of ``kind``; never raises."""
        try:
            with self._lock:
                self._errors[kind] = self._errors.get(kind, 0) + 1
                self._errors_total[kind] = self._errors_total.get(kind, 0) + 1
                first = kind not in self._logged
                self._logged.add(kind)
                hooks = list(self._hooks)
            if first:
                # Once per kind: a broken extractor on a hot path must not flood the app's logs.
                _logger.warning(
                    "otelml swallowed an internal error (kind=%s); the model was not affected. "
                    "Further errors of this kind are counted in otelml.instrumentation.errors "
                    "but not logged.",
                    kind,
                    exc_info=exc,
                )
            for hook in hooks:
                _call_hook(hook, kind, exc)
        except Exception:
            pass

    def dropped(self, kind: str, n: int = 1, *, hint: str = "") -> None:
        """Record ``n`` records dropped (a bounded structure was full, an export failed).

        The first drop of each kind is logged once, with ``hint`` saying what to change; the
        rest are counted in ``otelml.instrumentation.dropped``. Never raises.
        """
        try:
            with self._lock:
                self._dropped[kind] = self._dropped.get(kind, 0) + n
                self._dropped_total[kind] = self._dropped_total.get(kind, 0) + n
                first = f"dropped:{kind}" not in self._logged
                self._logged.add(f"dropped:{kind}")
            if first:
                _logger.warning(
                    "otelml dropped %d record(s) (kind=%s). %s Further drops are counted in "
                    "otelml.instrumentation.dropped but not logged.",
                    n,
                    kind,
                    hint,
                )
        except Exception:
            pass

    def take(self) -> tuple[dict[str, int], dict[str, int]]:
        """Return and reset the (errors, dropped) counts since the last call (metric deltas)."""
        with self._lock:
            errors, dropped = self._errors, self._dropped
            self._errors, self._dropped = {}, {}
        return errors, dropped

    def totals(self) -> tuple[dict[str, int], dict[str, int]]:
        """Return copies of the (errors, dropped) counts since the process started."""
        with self._lock:
            return dict(self._errors_total), dict(self._dropped_total)

    def add_hook(self, hook: ErrorHook) -> Callable[[], None]:
        """Call ``hook(kind, exc)`` for every swallowed error; returns a function removing it."""
        with self._lock:
            self._hooks.append(hook)

        def remove() -> None:
            with self._lock:
                if hook in self._hooks:
                    self._hooks.remove(hook)

        return remove

    def reset(self) -> None:
        """Forget counts and once-logged kinds (tests)."""
        with self._lock:
            self._errors.clear()
            self._dropped.clear()
            self._errors_total.clear()
            self._dropped_total.clear()
            self._logged.clear()


def _call_hook(hook: ErrorHook, kind: str, exc: BaseException) -> None:
    with contextlib.suppress(Exception):  # a test hook must not break the host either
        hook(kind, exc)


GUARD = Guard()
"""The process-wide guard."""
