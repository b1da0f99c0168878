"""The SVG charts: shares drawn to scale, user text escaped, bad shapes refused."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from otelml.report.svg import distribution_chart, esc, fmt_value, line_chart

NS = "{http://www.w3.org/2000/svg}"


def _bars(svg: str, who: str) -> list[float]:
    root = ET.fromstring(svg)
    return [
        float(r.get("height", "nan")) for r in root.iter(f"{NS}rect") if who in r.get("class", "")
    ]


def test_bar_heights_are_proportional_to_shares():
    base, cur = [0.1, 0.2, 0.7], [0.25, 0.25, 0.5]
    svg = distribution_chart(["a", "b", "c"], base, cur)
    b, c = _bars(svg, "baseline"), _bars(svg, "current")
    # One pixel scale for both series: height / share is the same constant everywhere.
    scale = b[2] / 0.7
    assert b == pytest.approx([s * scale for s in base], abs=0.06)
    assert c == pytest.approx([s * scale for s in cur], abs=0.06)


def test_numeric_chart_writes_edges_on_bin_boundaries():
    svg = distribution_chart(
        ["lo", "mid", "hi"], [0.3, 0.4, 0.3], [0.3, 0.4, 0.3], edges=[1.5, 2500]
    )
    texts = [t.text for t in ET.fromstring(svg).iter(f"{NS}text")]
    assert "1.5" in texts
    assert "2.5k" in texts
    with pytest.raises(ValueError, match="edges"):
        distribution_chart(["a", "b"], [0.5, 0.5], [0.5, 0.5], edges=[1.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        distribution_chart(["a", "b"], [1.0], [0.5, 0.5])


def test_user_text_is_escaped_and_stays_well_formed():
    evil = '<script>alert("x")</script>&\''
    svg = distribution_chart([evil], [1.0], [1.0], title=evil, highlight=[True])
    assert "<script>" not in svg
    root = ET.fromstring(svg)  # well-formed XML despite the markup in the label
    assert any(evil in "".join(t.itertext()) for t in root.iter(f"{NS}text"))
    assert root.get("aria-label") == evil
    assert esc('a"b') == "a&quot;b"


def test_fmt_value():
    assert fmt_value(1234.0) == "1.23k"
    assert fmt_value(-2.5e6) == "-2.5M"
    assert fmt_value(0.5) == "0.5"
    assert fmt_value(1e-5) == "1.0e-05"
    assert fmt_value(math.inf) == "inf"


def test_line_chart_breaks_lines_at_nan_and_draws_thresholds():
    x = [0.0, 1.0, 2.0, 3.0, 4.0]
    svg = line_chart(
        x, {"psi": [0.01, 0.02, math.nan, 0.3, 0.4], "js": [0.0] * 5}, thresholds={"drift": 0.2}
    )
    root = ET.fromstring(svg)
    lines = [p.get("points", "").split() for p in root.iter(f"{NS}polyline")]
    assert sorted(len(p) for p in lines) == [2, 2, 5]
    assert any(t.text == "drift" for t in root.iter(f"{NS}text"))
    with pytest.raises(ValueError, match="psi"):
        line_chart(x, {"psi": [1.0]})
