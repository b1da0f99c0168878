"""What one run of the demo is: the options asked for, how its time is cut, how it stops.

:class:`Run` is the state the loop, the view and the report share; :mod:`otelml.demo.runner`
builds it and starts the processor, :mod:`otelml.demo.drive` runs the loop on it and finishes.
"""

from __future__ import annotations

import contextlib
import math
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TextIO

from otelml.demo.scenario import PHASES

DEFAULT_DURATION_S = 80.0
DEFAULT_SPEED = 50.0
DEFAULT_REPORT = "otelml-demo-report.html"


@dataclass
class DemoOptions:
    """What ``otelml demo`` was asked for."""

    duration_s: float = DEFAULT_DURATION_S
    speed: float = DEFAULT_SPEED
    live: bool | None = None
    """None: live when stdout is a terminal."""
    report: str = DEFAULT_REPORT
    seed: int = 0
    state_dir: str | None = None
    metrics_port: int | None = None
    """None: 9464, or a free port when busy; 0: a free port."""


@dataclass(frozen=True)
class Timing:
    """How the run's duration is cut: phases, drift window, label delays."""

    duration_s: float
    phase_s: float
    window_s: int
    performance_window_s: int
    label_delay_s: tuple[float, float]

    @classmethod
    def of(cls, duration_s: float) -> Timing:
        """Return the timing of a run of ``duration_s`` seconds."""
        phase_s = duration_s / len(PHASES)
        # The drift window stays inside one phase, so each phase's change shows on its own,
        # yet holds enough rows for a decision (min_samples) at the default speed.
        window_s = int(min(max(round(0.75 * phase_s), 3), 12))
        lo = min(max(0.15 * phase_s, 0.5), 4.0)
        hi = min(max(0.4 * phase_s, 1.0), 8.0)
        # Performance by prediction time: the drift window plus the longest label delay, so
        # the labelled part of it is about as recent as the drift window.
        return cls(duration_s, phase_s, window_s, window_s + math.ceil(hi), (lo, hi))

    def phase_at(self, elapsed_s: float) -> int:
        """Return the phase index at ``elapsed_s``."""
        return min(int(elapsed_s / self.phase_s), len(PHASES) - 1)


class StopRequest:
    """SIGINT / SIGTERM handling: the first asks for a clean stop, a second one interrupts."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt  # a second signal: stop waiting for a clean end
        self.signum = signum

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Install the handlers for the duration of the block (main thread only)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)

    @property
    def exit_status(self) -> int:
        """Return 0, or 128 + the signal number."""
        return 0 if self.signum is None else 128 + self.signum


@dataclass
class Run:
    """The state of one run, shared by the loop, the view and the report."""

    options: DemoOptions
    timing: Timing
    out: TextIO
    stop: StopRequest
    started_wall: float = 0.0
    timeline: list[dict[str, Any]] = field(default_factory=list)
    phase_starts: list[float] = field(default_factory=list)

    def say(self, text: str) -> None:
        """Print one plain line."""
        self.out.write(text + "\n")
        self.out.flush()
