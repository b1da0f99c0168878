"""The processor's baselines: stored per (model, version) in SQLite, with version fallback.

Baselines reach the registry from files (``otelml baseline push`` through the HTTP API, or a
watched directory), from the HTTP API directly, or are built from the processor's own telemetry
(:mod:`otelml.processor.evaluate.freeze`). They live in
their own table of the processor's SQLite file, on a connection of their own (WAL lets it sit
beside the store's writer), and are cached parsed in memory: ``get`` is called for every model
on every evaluation and every scrape.

A model version without a baseline of its own falls back to the newest baseline of an earlier
version of the same model, and says so (:attr:`BaselineEntry.fallback`). Versions are ordered
semantically where they parse (``1.10.0 > 1.9.2``, ``2.0.0-rc1 < 2.0.0``, a leading ``v`` is
ignored) and by a natural sort otherwise (digit runs compare as numbers, the rest as text).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otelml.stats.baseline import Baseline, BaselineFormatError

log = logging.getLogger(__name__)

MAX_BASELINE_BYTES = 64 * 1024 * 1024
"""Largest baseline document the registry accepts (a 10,000-feature baseline is ~5 MB)."""

SOURCES: tuple[str, ...] = ("api", "file", "directory", "frozen", "pinned")
"""Values of :attr:`BaselineInfo.source`: how a baseline reached the registry."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS otelml_baselines (
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    source TEXT NOT NULL,
    stored_at REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (model, version)
)
"""

_SEMVER = re.compile(
    r"^v?(?P<nums>\d+(?:\.\d+)*)(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)
_RUNS = re.compile(r"(\d+)")

VersionKey = tuple[int, tuple[tuple[int, int | str], ...], int, tuple[tuple[int, int | str], ...]]


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in _RUNS.split(text) if p)


def version_key(version: str) -> VersionKey:
    """Return a sort key ordering versions semantically where they parse, naturally otherwise.

    Semantic versions sort after non-semantic ones; a pre-release sorts before its release.
    """
    m = _SEMVER.match(version)
    if m is None:
        return (0, _natural(version), 0, ())
    nums = tuple((0, int(p)) for p in m["nums"].split("."))
    # Pad so that 1.2 == 1.2.0 in order; a release (1) sorts after its pre-releases (0).
    nums = nums + ((0, 0),) * max(0, 3 - len(nums))
    pre = m["pre"]
    return (1, nums, 0 if pre else 1, _natural(pre) if pre else ())


@dataclass(frozen=True, slots=True)
class BaselineInfo:
    """What the registry knows about one stored baseline, without its content."""

    model: str
    version: str
    source: str
    stored_at: float
    features: int
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "model": self.model,
            "version": self.version,
            "source": self.source,
            "stored_at": self.stored_at,
            "features": self.features,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class BaselineEntry:
    """The baseline that applies to a model version, and whether it is another version's."""

    baseline: Baseline
    info: BaselineInfo
    requested_version: str

    @property
    def fallback(self) -> bool:
        """True when the baseline belongs to an earlier version than the one asked for."""
        return self.info.version != self.requested_version

    @property
    def baseline_version(self) -> str:
        """Return the version the baseline was stored under."""
        return self.info.version


class BaselineLimitError(ValueError):
    """A new baseline the registry has no room for (``limits.max_baselines`` or
    ``limits.max_baseline_versions``); replacing a stored one is always allowed."""


def parse_baseline(body: str | bytes) -> Baseline:
    """Return the baseline in a JSON document, or raise ``BaselineFormatError`` saying why."""
    if len(body) > MAX_BASELINE_BYTES:
        raise BaselineFormatError(f"baseline is larger than {MAX_BASELINE_BYTES} bytes")
    baseline = Baseline.from_json(body)
    if not baseline.model:
        raise BaselineFormatError("baseline: model must not be empty")
    if not baseline.version:
        raise BaselineFormatError("baseline: version must not be empty")
    return baseline


class BaselineRegistry:
    """Baselines keyed by (model, version) in a SQLite table, cached in memory.

    Parameters
    ----------
    path
        SQLite file (shared with the processor's store; WAL mode) or ``":memory:"``.
    clock
        Time source (unix seconds) for ``stored_at``; injected so tests control time.
    max_baselines, max_versions
        Caps on stored baselines in all and per model: a new (model, version) beyond either
        is refused with :class:`BaselineLimitError` and counted in :meth:`overflow`.
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        clock: Callable[[], float] = time.time,
        max_baselines: int = 1000,
        max_versions: int = 20,
    ):
        self.clock = clock
        self.max_baselines = max_baselines
        self.max_versions = max_versions
        self._overflow: dict[str, int] = {}
        self._versions: dict[str, int] = {}
        """Stored versions per model (``has_model`` is asked on hot paths)."""
        self._lock = threading.RLock()
        # The evaluator and the API call in from worker threads as well as from the loop.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout = 5000")
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute(_SCHEMA)
        self._cache: dict[tuple[str, str], tuple[Baseline, BaselineInfo]] = {}
        self._seen_files: dict[str, tuple[float, int]] = {}
        self.directory_errors: dict[str, str] = {}
        """Files of the watched directory that could not be loaded, with the reason."""
        self.generation = 0
        """Changes whenever a baseline is stored or deleted (for caches)."""
        for model, version, source, stored_at, body in self._db.execute(
            "SELECT model, version, source, stored_at, body FROM otelml_baselines"
        ):
            try:
                baseline = Baseline.from_json(body)
            except BaselineFormatError as exc:  # written by a newer otelml, say: skip, say so
                log.warning("stored baseline %s@%s cannot be read: %s", model, version, exc)
                continue
            self._cache[(model, version)] = (baseline, _info(baseline, version, source, stored_at))
            self._versions[model] = self._versions.get(model, 0) + 1

    def close(self) -> None:
        """Close the database connection (idempotent)."""
        with self._lock:
            self._db.close()

    # -- writing -------------------------------------------------------------------------------

    def put(
        self, baseline: Baseline, *, source: str = "api", version: str | None = None
    ) -> BaselineInfo:
        """Store ``baseline`` under (its model, ``version`` or its own version), replacing any."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        if version is not None and version != baseline.version:
            baseline = dataclasses.replace(baseline, version=version)
        version = baseline.version
        if not baseline.model or not version:
            raise ValueError("baseline model and version must not be empty")
        body = baseline.to_json(indent=None)
        with self._lock:
            if (baseline.model, version) not in self._cache:
                self._check_room(baseline.model)
                self._versions[baseline.model] = self._versions.get(baseline.model, 0) + 1
            stored_at = float(self.clock())
            self._db.execute(
                "INSERT OR REPLACE INTO otelml_baselines VALUES (?, ?, ?, ?, ?)",
                (baseline.model, version, source, stored_at, body),
            )
            info = _info(baseline, version, source, stored_at)
            self._cache[(baseline.model, version)] = (baseline, info)
            self.generation += 1
        return info

    def delete(self, model: str, version: str) -> bool:
        """Remove the baseline stored under (model, version); return whether there was one."""
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM otelml_baselines WHERE model = ? AND version = ?", (model, version)
            )
            if self._cache.pop((model, version), None) is not None:
                self._versions[model] -= 1
                if not self._versions[model]:
                    del self._versions[model]
            self.generation += 1
            return cur.rowcount > 0

    def _check_room(self, model: str) -> None:
        """Raise :class:`BaselineLimitError` (counted) when a new baseline of ``model`` has none."""
        if len(self._cache) >= self.max_baselines:
            limit, msg = "baselines", f"{self.max_baselines} baselines are stored (the cap)"
        elif self._versions.get(model, 0) >= self.max_versions:
            limit = "baseline_versions"
            msg = f"model {model!r} has {self.max_versions} baseline versions (the cap)"
        else:
            return
        self._overflow[limit] = self._overflow.get(limit, 0) + 1
        raise BaselineLimitError(f"{msg}; delete one first")

    def overflow(self) -> dict[str, int]:
        """Return the baselines refused by the caps: limit -> count."""
        with self._lock:
            return dict(self._overflow)

    def has_model(self, model: str) -> bool:
        """Return whether any baseline of ``model`` is stored."""
        return model in self._versions

    # -- reading -------------------------------------------------------------------------------

    def get(self, model: str, version: str, *, fallback: bool = True) -> BaselineEntry | None:
        """Return the baseline of (model, version), else the newest earlier version's, or None."""
        with self._lock:
            hit = self._cache.get((model, version))
            if hit is not None:
                return BaselineEntry(hit[0], hit[1], version)
            if not fallback:
                return None
            wanted = version_key(version)
            earlier = [
                (version_key(v), v)
                for (m, v) in self._cache
                if m == model and version_key(v) < wanted
            ]
            if not earlier:
                return None
            _, best = max(earlier)
            baseline, info = self._cache[(model, best)]
            return BaselineEntry(baseline, info, version)

    def list(self, model: str | None = None) -> list[BaselineInfo]:
        """Return every stored baseline's info (of one model if given), by model then version."""
        with self._lock:
            if model is not None and model not in self._versions:
                return []  # asked for every junk model name a sender invents: answer at once
            infos = [i for (m, _), (_, i) in self._cache.items() if model is None or m == model]
        return sorted(infos, key=lambda i: (i.model, version_key(i.version)))

    # -- files ---------------------------------------------------------------------------------

    def scan_directory(self, directory: str | Path) -> int:
        """Load every new or changed ``*.json`` baseline in ``directory``; return how many.

        A file is read again when its modification time or size changes. Files that fail to
        parse are listed in :attr:`directory_errors` and do not stop the others. Removing a file
        does not delete its baseline (use the API for that).
        """
        loaded = 0
        for path in sorted(Path(directory).glob("*.json")):
            try:
                st = path.stat()
            except OSError:
                continue  # removed between glob and stat
            stamp = (st.st_mtime, st.st_size)
            name = str(path)
            if self._seen_files.get(name) == stamp:
                continue
            self._seen_files[name] = stamp
            try:
                baseline = parse_baseline(path.read_bytes())
            except (OSError, BaselineFormatError) as exc:
                self.directory_errors[path.name] = str(exc)
                log.warning("baseline file %s not loaded: %s", path.name, exc)
                continue
            try:
                self.put(baseline, source="directory")
            except BaselineLimitError as exc:
                self.directory_errors[path.name] = str(exc)
                log.warning("baseline file %s not loaded: %s", path.name, exc)
                continue
            self.directory_errors.pop(path.name, None)
            loaded += 1
        return loaded

    async def watch_directory(self, directory: str | Path, interval_s: float = 30.0) -> None:
        """Scan ``directory`` every ``interval_s`` seconds until cancelled."""
        while True:
            try:
                await asyncio.to_thread(self.scan_directory, directory)
            except OSError as exc:  # directory missing or unreadable: keep polling
                log.warning("baseline directory %s: %s", directory, exc)
            await asyncio.sleep(interval_s)


def _info(baseline: Baseline, version: str, source: str, stored_at: float) -> BaselineInfo:
    return BaselineInfo(
        model=baseline.model,
        version=version,
        source=source,
        stored_at=stored_at,
        features=len(baseline.features),
        created_at=baseline.created_at,
    )


def share_caps(aggregator: Any, registry: BaselineRegistry, config: Any) -> None:
    """Give the registry its caps from ``config.limits`` and the aggregator its baseline test.

    The aggregator (which cannot see the registry) admits models with a baseline beyond
    ``limits.max_models``; ``limits.model_idle_s`` says when a model without one may be evicted.
    """
    lim = config.limits
    registry.max_baselines = lim.max_baselines
    registry.max_versions = lim.max_baseline_versions
    if aggregator.has_baseline is None:
        aggregator.has_baseline = registry.has_model
    aggregator.limits = dataclasses.replace(aggregator.limits, model_idle_s=lim.model_idle_s)
