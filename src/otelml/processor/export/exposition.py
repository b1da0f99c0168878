"""The Prometheus text exposition format 0.0.4 of collected metric families."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from otelml.processor.evaluate.results import numeric_labels as _les
from otelml.processor.export.shapes import Family

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label(value: str) -> str:
    """Return a label value escaped for the text format (backslash, quote, newline)."""
    if "\\" not in value and '"' not in value and "\n" not in value:
        return value
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(v: float) -> str:
    """Return a sample value as the text format writes it."""
    if v != v:
        return "NaN"
    if v in (math.inf, -math.inf):
        return "+Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


class _LabelWriter:
    """Renders label sets; pairs and the leading five values are cached (they repeat a lot)."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[str, str], str] = {}
        self._heads: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}

    def _pair(self, name: str, value: str) -> str:
        key = (name, value)
        p = self._pairs.get(key)
        if p is None:
            p = self._pairs[key] = f'{name}="{escape_label(value)}"'
        return p

    def __call__(self, names: tuple[str, ...], values: tuple[str, ...]) -> str:
        if not names:
            return ""
        hk = (names[:5], values[:5])
        head = self._heads.get(hk)
        if head is None:
            head = self._heads[hk] = ",".join(map(self._pair, names[:5], values[:5]))
        if len(names) <= 5:
            return "{" + head + "}"
        tail = ",".join(map(self._pair, names[5:], values[5:]))
        return "{" + head + "," + tail + "}"


def render(families: Iterable[Family]) -> str:
    """Return the families in the Prometheus text exposition format 0.0.4."""
    out: list[str] = []
    labels = _LabelWriter()
    for fam in families:
        m = fam.metric
        if not fam.samples and not fam.histograms:
            continue
        out.append(f"# HELP {m.name} {_escape_help(m.help)}")
        out.append(f"# TYPE {m.name} {m.type}")
        names = m.labels
        for values, value in fam.samples:
            out.append(f"{m.name}{labels(names, values)} {format_value(value)}")
        bucket_names = (*names, "le")
        for hp in fam.histograms:
            cum = np.cumsum(np.asarray(hp.counts, dtype=np.int64)).tolist()
            _, les = _les(hp.bounds)
            for le, c in zip(les, cum, strict=True):
                out.append(f"{m.name}_bucket{labels(bucket_names, (*hp.labels, le))} {c}")
            lab = labels(names, hp.labels)
            out.append(f"{m.name}_sum{lab} {format_value(hp.sum)}")
            out.append(f"{m.name}_count{lab} {int(hp.count)}")
    out.append("")
    return "\n".join(out)
