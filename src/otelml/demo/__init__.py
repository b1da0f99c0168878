"""``otelml demo``: a model, an embedded processor, drift as it happens, and a report.

:func:`run_demo` trains a scikit-learn model on bundled data, starts the processor in-process,
serves the model through ``@otelml.observe`` while injecting drift in phases, shows what the
processor sees (live in a terminal, or as log lines), and writes an HTML report. Modules:
``scenario`` (data, model, phases), ``traffic`` (SDK set-up, observed predict, delayed
labels), ``embedded`` (the processor on a thread), ``live`` (the terminal view), ``report``
(the HTML report, on :mod:`otelml.report`'s page), ``run`` (options, timing and the state of a
run), ``runner`` (start-up) and ``drive`` (the loop and the end). The processor is read through
:mod:`otelml.report.client` and :mod:`otelml.report.snapshot`, as ``otelml report --url`` does.
See docs/demo.md.
"""

from __future__ import annotations

from otelml.demo.run import DemoOptions
from otelml.demo.runner import run_demo

__all__ = ["DemoOptions", "run_demo"]
