"""A small parser of the Prometheus text exposition format 0.0.4, for the exporter tests.

It checks what a scraper relies on: every sample belongs to a family announced by ``# HELP`` and
``# TYPE`` lines before it, label values are unescaped (``\\\\``, ``\\"``, ``\\n``), histogram
samples are ``_bucket`` / ``_sum`` / ``_count`` of a histogram family, and values parse as Go
floats do (``+Inf``, ``-Inf``, ``NaN``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass
class ParsedFamily:
    name: str
    type: str = ""
    help: str = ""
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def _value(text: str) -> float:
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    return float(text)


def _labels(line: str, i: int) -> tuple[dict[str, str], int]:
    out: dict[str, str] = {}
    assert line[i] == "{"
    i += 1
    while line[i] != "}":
        m = _LABEL.match(line, i)
        assert m, f"bad label name at {i}: {line!r}"
        name = m.group()
        i = m.end()
        assert line[i : i + 2] == '="', f'expected =" at {i}: {line!r}'
        i += 2
        buf = []
        while line[i] != '"':
            if line[i] == "\\":
                nxt = line[i + 1]
                buf.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                i += 2
            else:
                buf.append(line[i])
                i += 1
        i += 1
        assert name not in out, f"duplicate label {name}"
        out[name] = "".join(buf)
        if line[i] == ",":
            i += 1
    return out, i + 1


def parse(text: str) -> dict[str, ParsedFamily]:
    """Return the families of an exposition, checking the format as it goes."""
    assert text.endswith("\n")
    families: dict[str, ParsedFamily] = {}
    current: ParsedFamily | None = None
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in families, f"family {name} announced twice"
            current = families[name] = ParsedFamily(name)
            current.help = help_text.replace("\\n", "\n").replace("\\\\", "\\")
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert current is not None, "TYPE without HELP"
            assert current.name == name, "TYPE without HELP"
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped")
            current.type = kind
            continue
        assert not line.startswith("#"), line
        m = _NAME.match(line)
        assert m, line
        sample = m.group()
        i = m.end()
        labels: dict[str, str] = {}
        if line[i] == "{":
            labels, i = _labels(line, i)
        assert line[i] == " ", line
        value = _value(line[i + 1 :].split(" ")[0])
        assert current is not None, "sample before any family"
        if current.type == "histogram":
            assert sample in (
                f"{current.name}_bucket",
                f"{current.name}_sum",
                f"{current.name}_count",
            ), sample
            assert (sample == f"{current.name}_bucket") == ("le" in labels), line
        else:
            assert sample == current.name, f"{sample} outside its family {current.name}"
        current.samples.append((sample, labels, value))
    return families


def histogram_series(fam: ParsedFamily) -> dict[tuple[tuple[str, str], ...], dict[str, object]]:
    """Return per label set: cumulative buckets [(le, count)], sum, count."""
    out: dict[tuple[tuple[str, str], ...], dict[str, object]] = {}
    for sample, labels, value in fam.samples:
        le = labels.pop("le", None)
        key = tuple(sorted(labels.items()))
        s = out.setdefault(key, {"buckets": []})
        if sample.endswith("_bucket"):
            s["buckets"].append((_value(le) if le is not None else math.nan, value))  # type: ignore[union-attr]
        elif sample.endswith("_sum"):
            s["sum"] = value
        else:
            s["count"] = value
    return out
