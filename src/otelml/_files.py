"""Re-readable tables for the offline readers: CSV and Parquet files in chunks, or columns.

A CSV has no types: pyarrow infers them from the first block, so a column that looked numeric
there is read as text and cast per chunk; a chunk with a cell that is not a number keeps that
column as text, and :func:`otelml._tabular.numeric_column` counts the cell as a type mismatch
instead of the whole file failing on it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from otelml._tabular import slice_rows, to_columns

__all__ = ["Table", "open_table"]


@dataclass
class Table:
    """A re-readable source of column chunks: a file read in chunks, or columns in memory."""

    total_rows: int | None
    _chunks: Callable[[int], Iterator[dict[str, np.ndarray]]]
    columns: list[str] = field(default_factory=list)

    def chunks(self, chunk_rows: int) -> Iterator[dict[str, np.ndarray]]:
        """Yield dicts of at most ``chunk_rows`` rows each, from the start."""
        return self._chunks(chunk_rows)


def _file_table(path: Path, columns: Sequence[str] | None) -> Table:
    name = path.name.lower()
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    if name.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path)
        names = list(meta.schema_arrow.names)

        def parquet_chunks(chunk_rows: int) -> Iterator[dict[str, np.ndarray]]:
            with pq.ParquetFile(path) as pf:
                for batch in pf.iter_batches(batch_size=chunk_rows, columns=columns):
                    yield to_columns(batch)

        return Table(meta.metadata.num_rows, parquet_chunks, names)
    if name.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".tsv", ".tsv.gz")):
        return _csv_table(path, columns, tsv=".tsv" in name)
    raise ValueError(f"{path}: unsupported file type; use .csv (optionally .gz) or .parquet")


def _csv_table(path: Path, columns: Sequence[str] | None, *, tsv: bool) -> Table:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    parse = pcsv.ParseOptions(delimiter="\t" if tsv else ",")
    import pyarrow.compute as pc

    # Streaming readers infer types from the first block only: numbers are read as text and
    # cast per chunk (a later "2.5" or "?" must not fail the file), all-null columns as text.
    probe_convert = pcsv.ConvertOptions(strings_can_be_null=True)
    with pcsv.open_csv(path, parse_options=parse, convert_options=probe_convert) as probe:
        schema = probe.schema
    types: dict[str, Any] = {}
    numeric_text: set[str] = set()
    for f in schema:
        if pa.types.is_integer(f.type) or pa.types.is_floating(f.type):
            types[f.name] = pa.string()
            numeric_text.add(f.name)
        elif pa.types.is_null(f.type):
            types[f.name] = pa.string()

    def cast(batch: Any) -> Any:
        arrays = []
        for name, arr in zip(batch.schema.names, batch.columns, strict=True):
            if name in numeric_text:
                # A chunk with text cells stays text: the readers count them as mismatches.
                with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    arr = pc.cast(arr, pa.float64())
            arrays.append(arr)
        return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)

    # An empty cell is a missing value in text columns too, as in pandas.read_csv.
    convert = pcsv.ConvertOptions(
        column_types=types, include_columns=columns, strings_can_be_null=True
    )

    def csv_chunks(chunk_rows: int) -> Iterator[dict[str, np.ndarray]]:
        with pcsv.open_csv(path, parse_options=parse, convert_options=convert) as reader:
            try:
                for batch in reader:
                    for start in range(0, batch.num_rows, chunk_rows):
                        yield to_columns(cast(batch.slice(start, chunk_rows)))
            except pa.ArrowInvalid as exc:
                raise ValueError(f"{path}: {exc}") from None

    return Table(None, csv_chunks, list(schema.names))


def open_table(
    data: Any, *, columns: Sequence[str] | None = None, feature_names: Sequence[str] | None = None
) -> Table:
    """Return a re-readable chunked view of a CSV/Parquet path or a DataFrame-like object."""
    if isinstance(data, (str, os.PathLike)):
        return _file_table(Path(data), columns)
    cols = to_columns(data, feature_names)
    if columns is not None:
        missing = [c for c in columns if c not in cols]
        if missing:
            raise KeyError(f"columns not found: {missing} (available: {list(cols)})")
        cols = {c: cols[c] for c in columns}
    rows = len(next(iter(cols.values()))) if cols else 0
    return Table(rows, lambda n: iter(slice_rows(cols, n)), list(cols))
