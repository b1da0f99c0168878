"""Build, save and load baselines from files and in-memory tables (the I/O side of baselines).

``build_baseline`` reads a CSV or Parquet file in chunks (twice when a column is too large for
exact quantiles, see :mod:`otelml.stats.baseline_builder`) or takes any DataFrame-like object
that :func:`otelml._tabular.to_columns` accepts; ``save_baseline`` writes JSON atomically and
``load_baseline`` reads it back with errors that say what is wrong.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from otelml._tabular import slice_rows, to_columns
from otelml.stats._columns import split_categorical, split_numeric
from otelml.stats.baseline import Baseline, BaselineFormatError, FeatureBaseline, Kind
from otelml.stats.baseline_builder import DEFAULT_MAX_EXACT, BaselineBuilder

DEFAULT_CHUNK_ROWS = 65_536
ProgressArg = bool | Callable[[str, int, int | None], None]

__all__ = [
    "CurrentProfile",
    "build_baseline",
    "load_baseline",
    "open_table",
    "profile_current",
    "save_baseline",
]


class _Progress:
    """Rows read / total on stderr, at most a few times a second, or a caller's callback."""

    def __init__(self, arg: ProgressArg, stream: TextIO | None = None) -> None:
        self.callback = arg if callable(arg) else None
        self.enabled = bool(arg)
        self.stream = stream
        self._last = 0.0

    def __call__(self, stage: str, rows: int, total: int | None, *, final: bool = False) -> None:
        if self.callback is not None:
            self.callback(stage, rows, total)
            return
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self._last < 0.25:
            return
        self._last = now
        stream = self.stream or sys.stderr
        text = f"{stage}: {rows:,} rows"
        if total:
            text = f"{stage}: {rows:,} / {total:,} rows ({100 * rows / total:.0f}%)"
        tty = stream.isatty()
        end = "\n" if final or not tty else ""
        stream.write(("\r" if tty else "") + text + end)
        stream.flush()


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
    # Streaming readers infer types from the first block only; reading integers as float64
    # and all-null columns as strings lets later blocks hold 2.5 or text without failing.
    probe_convert = pcsv.ConvertOptions(strings_can_be_null=True)
    with pcsv.open_csv(path, parse_options=parse, convert_options=probe_convert) as probe:
        schema = probe.schema
    types: dict[str, Any] = {}
    for f in schema:
        if pa.types.is_integer(f.type):
            types[f.name] = pa.float64()
        elif pa.types.is_null(f.type):
            types[f.name] = pa.string()
    # An empty cell is a missing value in text columns too, as in pandas.read_csv.
    convert = pcsv.ConvertOptions(
        column_types=types, include_columns=columns, strings_can_be_null=True
    )

    def csv_chunks(chunk_rows: int) -> Iterator[dict[str, np.ndarray]]:
        with pcsv.open_csv(path, parse_options=parse, convert_options=convert) as reader:
            try:
                for batch in reader:
                    for start in range(0, batch.num_rows, chunk_rows):
                        yield to_columns(batch.slice(start, chunk_rows))
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


def build_baseline(
    data: Any,
    *,
    model: str,
    version: str,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    numeric: Sequence[str] | None = None,
    prediction: str | None = None,
    label: str | None = None,
    importances: Mapping[str, float] | None = None,
    bins: int = 10,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: ProgressArg = False,
    feature_names: Sequence[str] | None = None,
    category_cap: int = 100,
    max_exact: int = DEFAULT_MAX_EXACT,
    seed: int = 0,
    performance: Mapping[str, float] | None = None,
) -> Baseline:
    """Return a frozen :class:`Baseline` of ``data`` for one model version.

    Parameters
    ----------
    data
        A ``.csv`` / ``.csv.gz`` / ``.parquet`` path (read in chunks of ``chunk_rows``), or a
        pandas/polars DataFrame, pyarrow Table, dict of arrays, numpy structured array, or 2-D
        numpy array with ``feature_names``.
    features
        Feature columns (default: every column but ``prediction`` and ``label``).
    categorical, numeric
        Columns whose kind overrides the one inferred from the dtype.
    prediction, label
        Prediction and ground-truth columns, profiled as ``Baseline.prediction`` / ``label``.
    importances
        Feature importances by feature name, used to rank drift.
    bins
        Quantile bins per numeric feature.
    progress
        True to print rows read / total on stderr, or a callable ``(stage, rows, total)``.
    max_exact, seed
        See :class:`~otelml.stats.baseline_builder.BaselineBuilder`.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    both = sorted(set(categorical or ()) & set(numeric or ()))
    if both:
        raise ValueError(f"columns declared both categorical and numeric: {both}")
    kinds: dict[str, Kind] = {c: "categorical" for c in categorical or ()}
    kinds.update({c: "numeric" for c in numeric or ()})
    read = None
    if features is not None:
        read = [*features, *(c for c in (prediction, label) if c is not None)]
    table = open_table(data, columns=read, feature_names=feature_names)
    builder = BaselineBuilder(
        features,
        kinds=kinds,
        prediction=prediction,
        label=label,
        bins=bins,
        category_cap=category_cap,
        max_exact=max_exact,
        seed=seed,
    )
    report = _Progress(progress)
    rows = 0
    for chunk in table.chunks(chunk_rows):
        builder.update(chunk)
        rows += len(next(iter(chunk.values()))) if chunk else 0
        report("baseline: reading", rows, table.total_rows)
    report("baseline: reading", rows, table.total_rows, final=True)
    if builder.needs_second_pass:
        counted = 0
        for chunk in table.chunks(chunk_rows):
            builder.count(chunk)
            counted += len(next(iter(chunk.values()))) if chunk else 0
            report("baseline: counting on the edges (pass 2)", counted, rows)
        report("baseline: counting on the edges (pass 2)", counted, rows, final=True)
    return builder.freeze(
        model=model, version=version, importances=importances, performance=performance
    )


def save_baseline(baseline: Baseline, path: str | os.PathLike[str]) -> Path:
    """Write ``baseline`` as JSON to ``path`` atomically (readers never see a partial file)."""
    target = Path(path)
    text = baseline.to_json()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    """Return the baseline stored at ``path``.

    Raises
    ------
    FileNotFoundError
        No such file.
    BaselineFormatError
        Not valid JSON, not a baseline, or a schema version this otelml cannot read (the message
        starts with the path).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"baseline file not found: {p}") from None
    except UnicodeDecodeError:
        raise BaselineFormatError(f"{p}: not a baseline (not UTF-8 text)") from None
    try:
        return Baseline.from_json(text)
    except BaselineFormatError as exc:
        raise BaselineFormatError(f"{p}: {exc}") from None


@dataclass
class CurrentProfile:
    """A dataset counted on a baseline's bins: sketches, missing counts, absent columns."""

    rows: int
    sketches: dict[str, Any]
    missing: dict[str, int]
    absent: list[str]


def profile_current(
    data: Any,
    baseline: Baseline,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: ProgressArg = False,
    feature_names: Sequence[str] | None = None,
) -> CurrentProfile:
    """Return ``data`` counted on ``baseline``'s bins and categories, one chunk at a time.

    Features and the prediction column that ``data`` lacks are listed in ``absent``.
    """
    targets: dict[str, FeatureBaseline] = dict(baseline.features)
    if baseline.prediction is not None:
        targets[baseline.prediction.name] = baseline.prediction
    probe = open_table(data, feature_names=feature_names)
    present = [c for c in targets if c in probe.columns]
    absent = [c for c in targets if c not in probe.columns]
    table = open_table(data, columns=present, feature_names=feature_names)
    sketches = {c: targets[c].new_sketch() for c in present}
    missing = dict.fromkeys(present, 0)
    report = _Progress(progress)
    rows = 0
    for chunk in table.chunks(chunk_rows):
        for c in present:
            fb = targets[c]
            if fb.kind == "numeric":
                values, n_missing = split_numeric(chunk[c], c)
            else:
                values, n_missing = split_categorical(chunk[c])
            sketches[c].update_many(values)
            missing[c] += n_missing
        rows += len(chunk[present[0]]) if present else 0
        report("current data", rows, table.total_rows)
    report("current data", rows, table.total_rows, final=True)
    return CurrentProfile(rows, sketches, missing, absent)
