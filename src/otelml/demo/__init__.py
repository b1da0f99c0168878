"""``otelml demo``: a model, an embedded processor, drift as it happens, and a report.

:func:`run_demo` trains a scikit-learn model on bundled data, starts the processor in-process,
serves the model through ``@otelml.observe`` while injecting drift in phases, shows what the
processor sees (live in a terminal, or as log lines), and writes an HTML report. Modules:
``scenario`` (data, model, phases), ``traffic`` (SDK set-up, observed predict, delayed
labels), ``embedded`` (the processor on a thread), ``client`` and ``snapshot`` (reading the
processor's API), ``live`` (the terminal view), ``report`` (the HTML report), ``runner``
(the run). See docs/demo.md.
"""

from __future__ import annotations

from otelml.demo.runner import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]
