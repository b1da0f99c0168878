"""The demo's client of the processor's HTTP API: :mod:`otelml.report.client`, shared with
``otelml report --url`` (kept here so existing imports keep working)."""

from __future__ import annotations

from otelml.report.client import TIMEOUT_S, Answer, ApiClient, samples

__all__ = ["TIMEOUT_S", "Answer", "ApiClient", "samples"]
