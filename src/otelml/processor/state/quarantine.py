"""Stored rows that fail to load at start-up: moved aside, logged and counted, never fatal.

A window row, a cumulative stream's last point or a performance cell that cannot be read (a
newer otelml's layout, a disk fault, a hand edit: invalid JSON, negative counts) must not keep
the processor from starting, nor be lost. :func:`load_rows` hands each row of a table to its
loader; a row the loader refuses is moved, in one transaction, to ``otelml_quarantine`` (the
table it came from, its key as JSON, its data, the error, the time) and logged with its key.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from otelml.processor.state.writer import immediate_transaction

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS otelml_quarantine (
    source TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, error TEXT NOT NULL,
    quarantined_at REAL NOT NULL)
"""

Loader = Callable[[tuple[Any, ...], str], None]


def load_rows(
    conn: sqlite3.Connection, table: str, key_columns: Sequence[str], data_column: str, load: Loader
) -> int:
    """Call ``load(key, data)`` for every row of ``table``; quarantine those it refuses.

    Returns how many rows were quarantined. ``load`` must change nothing when it raises.
    """
    cols = ", ".join((*key_columns, data_column))
    bad: list[tuple[tuple[Any, ...], str, str]] = []
    for *key, data in conn.execute(f"SELECT {cols} FROM {table}"):
        try:
            load(tuple(key), data)
        except Exception as exc:  # noqa: PERF203 - an unreadable row is set aside, never fatal
            bad.append((tuple(key), data, f"{type(exc).__name__}: {exc}"))
    if not bad:
        return 0
    where = " AND ".join(f"{c} = ?" for c in key_columns)
    now = time.time()
    with immediate_transaction(conn):
        conn.execute(SCHEMA)
        for key, data, error in bad:
            log.warning(
                "stored row of %s with key %r cannot be loaded (%s): quarantined", table, key, error
            )
            conn.execute(
                "INSERT INTO otelml_quarantine VALUES (?, ?, ?, ?, ?)",
                (table, json.dumps(list(key)), str(data), error, now),
            )
            conn.execute(f"DELETE FROM {table} WHERE {where}", key)
    return len(bad)


def non_negative(what: str, values: Mapping[Any, Any] | Sequence[Any] | int) -> None:
    """Raise ValueError when a stored count (or any of several) is negative."""
    items = values.values() if isinstance(values, Mapping) else values
    for v in [items] if isinstance(items, int) else items:
        if v < 0:
            raise ValueError(f"{what}: negative count {v}")
