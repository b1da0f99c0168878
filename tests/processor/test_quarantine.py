"""Start-up never refuses to start because of a bad stored row: the row is quarantined."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from otelml.processor.receive.ingest import metrics_replayer
from otelml.processor.receive.series import IngestOptions
from otelml.processor.state.aggregator import Aggregator, FeatureWindow, SeriesKey
from otelml.processor.state.store import Store
from otelml.stats.categorical import CategoryCounts

from .joindata import open_joins, prediction

T = 1_700_000_000.0


def _window(**counts: int) -> dict[str, object]:
    c = CategoryCounts(cap=100)
    c.update_counts(counts)
    return FeatureWindow(categories=c, rows=sum(counts.values())).to_dict()


def _open_store(path: Path) -> tuple[Store, Aggregator]:
    agg = Aggregator(60, 10**10, clock=lambda: T)
    store = Store(path, agg, replay=metrics_replayer(IngestOptions()), clock=lambda: T)
    store.open()
    return store, agg


def _quarantined(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return sorted(
            (str(t), str(k)) for t, k in conn.execute("SELECT source, key FROM otelml_quarantine")
        )


BAD_WINDOWS = {
    "negative rows": {**_window(a=2), "rows": -3},
    "negative category count": {
        **_window(a=2),
        "categories": {**_window(a=2)["categories"], "counts": {"a": -5}},
    },  # type: ignore[dict-item]
    "not a window": [1, 2, 3],
    "unknown format": {**_window(a=1), "format": 99},
}


@pytest.mark.parametrize("case", sorted(BAD_WINDOWS))
def test_a_bad_window_row_is_quarantined_and_the_rest_loads(
    tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "otelml.db"
    store, _ = _open_store(path)
    key = SeriesKey("m", "1", "production", "city", "")
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO otelml_windows VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*key, int(T), json.dumps(_window(a=1))),
        )
        conn.execute(
            "INSERT INTO otelml_windows VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*key, int(T) + 60, json.dumps(BAD_WINDOWS[case])),
        )
        conn.execute("INSERT INTO otelml_streams VALUES (?, ?, ?)", ("s1", 1, "{not json"))
    with caplog.at_level(logging.WARNING):
        store, agg = _open_store(path)
    try:
        assert store.alive
        [(ws, w)] = agg.history(key)
        assert ws == int(T)
        assert w.rows == 1
        assert store.quarantined() == {"otelml_windows": 1, "otelml_streams": 1}
        assert "otelml_windows" in caplog.text
        assert "'city'" in caplog.text
    finally:
        store.close()
    assert [t for t, _ in _quarantined(path)] == ["otelml_streams", "otelml_windows"]
    store, agg = _open_store(path)  # moved, not kept: the next start is clean
    try:
        assert store.quarantined() == {"otelml_windows": 0, "otelml_streams": 0}
    finally:
        store.close()


def test_a_bad_performance_cell_is_quarantined_and_the_join_opens(tmp_path: Path) -> None:
    path = tmp_path / "otelml.db"
    j = open_joins(path, clock=lambda: T)
    j.apply([prediction("p1", T, value=0.5)])
    j.close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO otelml_performance VALUES (?, ?, ?, ?, ?, ?)",
            ("m", "1", "production", "", 0, json.dumps({"p": -4, "l": 0})),
        )
        conn.execute(
            "INSERT INTO otelml_performance VALUES (?, ?, ?, ?, ?, ?)",
            ("m", "1", "production", "", 60, "{broken"),
        )
    j = open_joins(path, clock=lambda: T)
    try:
        assert j.alive
        assert j.quarantined() == {"otelml_performance": 2}
        assert sum(c.predictions for c in j.totals().values()) == 1
        j.apply([prediction("p2", T, value=0.5)])  # and it still works
    finally:
        j.close()
    assert [t for t, _ in _quarantined(path)] == ["otelml_performance"] * 2
