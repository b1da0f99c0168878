"""Build, save and load baselines from files and in-memory tables (the I/O side of baselines).

``build_baseline`` reads a CSV or Parquet file in chunks (twice when a column is too large for
exact quantiles, see :mod:`otelml.stats.baseline_builder`) or takes any DataFrame-like object
that :func:`otelml._tabular.to_columns` accepts; ``save_baseline`` writes JSON atomically and
``load_baseline`` reads it back with errors that say what is wrong.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from otelml._files import open_table
from otelml._tabular import categorical_column, infer_kind, numeric_column, parse_numbers
from otelml.stats._columns import split_categorical, split_numeric
from otelml.stats.baseline import Baseline, BaselineFormatError, FeatureBaseline, Kind
from otelml.stats.baseline_builder import DEFAULT_MAX_EXACT, BaselineBuilder

_logger = logging.getLogger("otelml")
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
    nan_is_missing: bool = True,
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
    nan_is_missing
        Count NaN as missing, as pandas does (default), so that every container agrees; False
        keeps NaN apart (``nan_rate``) where the container can tell it from a null.

    Kinds not declared are inferred from the first chunk: integer and float columns numeric,
    booleans categorical, text numeric when at least 90% of its cells parse as numbers (the
    rest count as invalid). Numbers of categorical columns are spelled canonically
    (``1.0`` -> ``"1"``, see :mod:`otelml._categories`). Declared columns missing from the
    data are a ``ValueError`` naming them; a baseline with fewer than 100 values in a column
    is logged as a warning on the ``otelml`` logger (it cannot decide drift).
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
    _check_declared(table.columns, features, categorical, numeric, prediction, label)
    used = read if read is not None else table.columns
    builder: BaselineBuilder | None = None
    report = _Progress(progress)
    rows = 0
    mismatches = dict.fromkeys(used, 0)
    for raw in table.chunks(chunk_rows):
        if builder is None:
            # Kinds are decided here, on the first chunk as the live path would count it, so
            # that the builder never re-types a column of text numbers or a dirty cell.
            for col in used:
                if col in raw and col not in kinds:
                    kinds[col] = "numeric" if infer_kind(raw[col]) == "numeric" else "categorical"
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
        builder.update(_normalised(raw, kinds, nan_is_missing, mismatches))
        rows += len(next(iter(raw.values()))) if raw else 0
        report("baseline: reading", rows, table.total_rows)
    report("baseline: reading", rows, table.total_rows, final=True)
    if builder is None:
        raise ValueError("no rows to build a baseline from")
    if builder.needs_second_pass:
        counted = 0
        for raw in table.chunks(chunk_rows):
            builder.count(_normalised(raw, kinds, nan_is_missing, None))
            counted += len(next(iter(raw.values()))) if raw else 0
            report("baseline: counting on the edges (pass 2)", counted, rows)
        report("baseline: counting on the edges (pass 2)", counted, rows, final=True)
    baseline = builder.freeze(
        model=model, version=version, importances=importances, performance=performance
    )
    _warn_about(baseline, rows, mismatches)
    return baseline


def _check_declared(
    available: Sequence[str],
    features: Sequence[str] | None,
    categorical: Sequence[str] | None,
    numeric: Sequence[str] | None,
    prediction: str | None,
    label: str | None,
) -> None:
    """Raise ValueError naming every declared column that the data does not have."""
    wanted = {
        "features": list(features or ()),
        "categorical": list(categorical or ()),
        "numeric": list(numeric or ()),
        "prediction": [prediction] if prediction else [],
        "label": [label] if label else [],
    }
    have = set(available)
    problems = [
        f"{option} {[c for c in cols if c not in have]}"
        for option, cols in wanted.items()
        if any(c not in have for c in cols)
    ]
    if problems:
        raise ValueError(
            f"columns not in the data: {'; '.join(problems)} (the data has {list(available)})"
        )


def _normalised(
    chunk: Mapping[str, np.ndarray],
    kinds: Mapping[str, str],
    nan_is_missing: bool,
    mismatches: dict[str, int] | None,
) -> dict[str, np.ndarray]:
    """Return ``chunk`` with numeric columns as masked floats and categories canonical."""
    out: dict[str, np.ndarray] = {}
    for col, arr in chunk.items():
        kind = kinds.get(col)
        if kind == "numeric":
            out[col], bad = numeric_column(arr, nan_is_missing=nan_is_missing)
            if mismatches is not None and bad:
                mismatches[col] = mismatches.get(col, 0) + bad
        elif kind == "categorical":
            out[col] = categorical_column(arr)
        else:
            out[col] = arr
    return out


def _warn_about(baseline: Baseline, rows: int, mismatches: Mapping[str, int]) -> None:
    from otelml.stats.decision import DriftPolicy

    need = DriftPolicy().min_reference
    columns = [*baseline.features.values(), baseline.prediction]
    short = sorted(
        fb.name for fb in columns if fb is not None and fb.count * (1 - fb.missing_rate) < need
    )
    if short:
        _logger.warning(
            "baseline %s %s built from %d rows: %s %s fewer than %d values, so drift can never "
            "be decided against it (every comparison says insufficient_data); build it from "
            "more reference rows.",
            baseline.model,
            baseline.version,
            rows,
            "columns" if len(short) > 1 else "column",
            ", ".join(short) + (" have" if len(short) > 1 else " has"),
            need,
        )
    for col, bad in mismatches.items():
        if bad:
            _logger.warning(
                "column %r: %d of %d cells are not numbers; counted as invalid (type mismatch) "
                "in the baseline's nan_rate, as the live path counts them.",
                col,
                bad,
                rows,
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
    """A dataset counted on a baseline's bins: sketches, quality counts, schema differences.

    ``missing`` and ``type_mismatch`` count per baseline column (a mismatch is a cell of a
    numeric column that is not a number, as the live path counts it); ``absent`` lists the
    baseline's features and prediction that the data lacks, ``unknown`` the data's columns
    that the baseline does not know (neither feature, prediction nor label).
    """

    rows: int
    sketches: dict[str, Any]
    missing: dict[str, int]
    absent: list[str]
    type_mismatch: dict[str, int] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


def _numeric_values(col: np.ndarray, nan_is_missing: bool) -> tuple[np.ndarray, int, int]:
    """Return (values to count, missing, type mismatches) of a numeric column's chunk."""
    if np.ma.getdata(col).dtype.kind in "OUS":
        values, missing, mismatch = parse_numbers(col)
        return values[~missing & ~mismatch], int(missing.sum()), int(mismatch.sum())
    masked, _ = numeric_column(col, nan_is_missing=nan_is_missing)
    present, n_missing = split_numeric(masked, "")
    return present, n_missing, 0


def profile_current(
    data: Any,
    baseline: Baseline,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: ProgressArg = False,
    feature_names: Sequence[str] | None = None,
    nan_is_missing: bool = True,
) -> CurrentProfile:
    """Return ``data`` counted on ``baseline``'s bins and categories, one chunk at a time.

    Values are read as :func:`build_baseline` reads them (same missing markers, canonical
    categories, text cells of numeric columns counted in ``type_mismatch``).
    """
    targets: dict[str, FeatureBaseline] = dict(baseline.features)
    if baseline.prediction is not None:
        targets[baseline.prediction.name] = baseline.prediction
    probe = open_table(data, feature_names=feature_names)
    present = [c for c in targets if c in probe.columns]
    absent = [c for c in targets if c not in probe.columns]
    known = set(targets) | ({baseline.label.name} if baseline.label is not None else set())
    unknown = [c for c in probe.columns if c not in known]
    # With no baseline column present, every column is read so that the rows still count.
    table = open_table(data, columns=present or None, feature_names=feature_names)
    sketches = {c: targets[c].new_sketch() for c in present}
    missing = dict.fromkeys(present, 0)
    mismatch = dict.fromkeys(present, 0)
    report = _Progress(progress)
    rows = 0
    for chunk in table.chunks(chunk_rows):
        for c in present:
            if targets[c].kind == "numeric":
                values, n_missing, n_bad = _numeric_values(chunk[c], nan_is_missing)
                mismatch[c] += n_bad
            else:
                values, n_missing = split_categorical(categorical_column(chunk[c]))
            sketches[c].update_many(values)
            missing[c] += n_missing
        rows += len(next(iter(chunk.values()))) if chunk else 0
        report("current data", rows, table.total_rows)
    report("current data", rows, table.total_rows, final=True)
    return CurrentProfile(rows, sketches, missing, absent, mismatch, unknown)
