"""Self-contained HTML reports: drift, data quality and distributions against a baseline.

>>> from otelml.report import render_report, write_report
>>> html = render_report(baseline, current_frame)           # doctest: +SKIP
>>> write_report("report.html", "model.baseline.json", "today.parquet")  # doctest: +SKIP

The page is one file with inline CSS and SVG; it loads nothing from the network and runs no
script. :mod:`otelml.report.svg` (charts), :mod:`otelml.report.html` (page parts) and
:mod:`otelml.report.views` (baseline + sketch to chart and quality figures) are the pieces a
report over the processor's time windows reuses; :mod:`otelml.report.offline` compares two
datasets; :mod:`otelml.report.remote` reports on a model from a running processor (its API
client, snapshot, views and history parts are in ``client``, ``snapshot``, ``processor`` and
``history``, shared with the demo).
"""

from __future__ import annotations

from otelml.report.html import FeatureView, QualityFigures, render_page
from otelml.report.offline import OfflineReport, analyse, render_report, write_report

__all__ = [
    "FeatureView",
    "OfflineReport",
    "QualityFigures",
    "analyse",
    "render_page",
    "render_report",
    "write_report",
]
