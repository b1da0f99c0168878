"""The public surface is curated: pinned here so that any change to it is deliberate."""

from __future__ import annotations

import subprocess
import sys

import pytest

import otelml
import otelml.stats

PUBLIC = {
    "ConfigError",
    "FlushResult",
    "InstrumentedEstimator",
    "Telemetry",
    "__version__",
    "build_baseline",
    "load_baseline",
    "save_baseline",
    "configure",
    "flush",
    "instrument",
    "last_prediction_ids",
    "observe",
    "record_actuals",
}


def test_top_level_all_is_pinned() -> None:
    assert set(otelml.__all__) == PUBLIC
    for name in otelml.__all__:
        assert getattr(otelml, name) is not None


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        otelml.no_such_name  # noqa: B018


def test_stats_all_names_exist() -> None:
    for name in otelml.stats.__all__:
        assert hasattr(otelml.stats, name), name


def test_stats_import_does_not_load_instrumentation_or_opentelemetry() -> None:
    # Dependencies point one way: the processor's path (otelml.stats) stays free of OTel.
    code = (
        "import sys, otelml.stats; "
        "bad = [m for m in sys.modules if m.startswith(('otelml.instrumentation', "
        "'otelml.processor', 'opentelemetry'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
