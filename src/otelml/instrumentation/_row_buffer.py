"""The buffer of single rows of one series that share their keys, counted whole at a spill."""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np

from otelml.instrumentation._feature_state import _NUMBERS, NUMERIC, FeatureState


class RowSchema:
    """Rows of one series with the same keys, buffered whole until the series spills them."""

    __slots__ = ("numeric", "ready", "rows", "states")

    def __init__(self, states: list[FeatureState]) -> None:
        self.states = states
        self.rows: list[tuple[Any, ...]] = []
        self.ready = self.numeric = False
        self.check()

    def check(self) -> bool:
        """Return whether rows may be buffered: every feature's kind is known (kinds never
        change once known, so buffered rows count exactly as they would value by value)."""
        self.ready = all(f.kind is not None for f in self.states)
        self.numeric = self.ready and all(f.kind == NUMERIC for f in self.states)
        return self.ready

    def spill(self) -> None:
        """Count the buffered rows: as one float64 block when every value is a plain number of
        a numeric feature (one type pass, one conversion), else column by column."""
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        if self.numeric and set(map(type, chain.from_iterable(rows))) <= _NUMBERS:
            block = np.array(rows, dtype=np.float64)
            for j, f in enumerate(self.states):
                f.stage_numbers(block[:, j])
            return
        for f, column in zip(self.states, zip(*rows, strict=True), strict=True):
            f.add_values(column)
