"""The decorator that serves the model also builds its baseline, during validation.

Run: ``python examples/training_baseline.py``. The same ``@otelml.observe`` function scores the
validation set with ``environment="validation"`` (``OTELML_ENVIRONMENT=validation`` does the same
without code changes). Its telemetry is frozen into a baseline the way the processor does it
(``POST /api/v1/models/{model}/versions/{version}/baseline:freeze`` on ``otelml serve``; here in
process, so the example needs no service), and next to it the direct path, ``build_baseline`` on
the validation frame. Production traffic is then compared with that baseline.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

import otelml
import otelml.testing
from otelml.cli.baseline import show_text
from otelml.stats import Baseline

ENVIRONMENT = os.environ.get("OTELML_ENVIRONMENT", "validation")


def baseline_from_telemetry(
    telemetry: otelml.testing.Capture, model: str, version: str
) -> Baseline:
    """Return the baseline the processor freezes from this telemetry (its own ingestion path)."""
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics

    from otelml.processor.evaluate.freeze import baseline_from_windows
    from otelml.processor.receive.ingest import ingest_metrics
    from otelml.processor.receive.series import IngestOptions
    from otelml.processor.state.aggregator import Aggregator
    from otelml.processor.state.updates import to_updates

    request = encode_metrics(telemetry.metric_reader.get_metrics_data())  # the OTLP payload
    opts = IngestOptions()
    result = ingest_metrics(request, opts, time.time())
    # Delta temporality (capture(delta=True)): each point is already an increment.
    items = [(o.key, o.window_start, o.kind, o.label, o.value) for o in result.observations]
    state = Aggregator()
    state.apply(to_updates(items, opts.max_categories))
    windows = state.window(model=model, version=version, environment=ENVIRONMENT)
    return baseline_from_windows(model, version, windows)


def main() -> None:
    X, y = load_wine(return_X_y=True, as_frame=True)
    X_train, X_valid, y_train, _ = train_test_split(X, y, test_size=0.4, random_state=0)
    forest = RandomForestClassifier(n_estimators=50, random_state=0).fit(X_train, y_train)

    @otelml.observe(model="wine", version="3", environment=ENVIRONMENT)
    def predict(frame: pd.DataFrame) -> np.ndarray:
        return forest.predict(frame)

    with otelml.testing.capture(delta=True) as telemetry:
        for lo in range(0, len(X_valid), 16):  # validation batches, as a pipeline would run them
            predict(X_valid.iloc[lo : lo + 16])
        from_telemetry = baseline_from_telemetry(telemetry, "wine", "3")

    direct = otelml.build_baseline(X_valid, model="wine", version="3")

    print(f"validation rows: {len(X_valid)} (environment={ENVIRONMENT})")
    print("\n== baseline frozen from the decorator's telemetry ==")
    print(show_text(from_telemetry))
    print("\n== baseline built directly from the validation frame ==")
    print(show_text(direct))
    print("\n== the two side by side ==")
    print(f"{'feature':<30} {'mean (telemetry)':>17} {'mean (direct)':>14} {'rows':>6}")
    for name, fb in direct.features.items():
        tb = from_telemetry.features[name]
        print(f"{name:<30} {tb.mean:>17.4g} {fb.mean:>14.4g} {tb.count:>6}")
    same = all(
        abs(from_telemetry.features[n].mean - fb.mean) <= 1e-9 * max(abs(fb.mean), 1.0)
        for n, fb in direct.features.items()
    )
    print(
        f"\nfeatures: {len(from_telemetry.features)} from telemetry, {len(direct.features)} direct"
    )
    print(f"means agree: {same}")
    classes = from_telemetry.prediction.categories if from_telemetry.prediction else {}
    print(f"prediction classes in the telemetry baseline: {dict(sorted(classes.items()))}")


if __name__ == "__main__":
    main()
