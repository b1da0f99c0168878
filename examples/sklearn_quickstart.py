"""otelml on a scikit-learn pipeline: every prediction becomes OpenTelemetry telemetry.

Run: ``python examples/sklearn_quickstart.py``. In a real service, call
``otelml.configure(service_name=...)`` (or set up OpenTelemetry yourself) and the same telemetry
goes to your Collector; here ``otelml.testing.capture()`` keeps it in memory so we can print it.
"""

from __future__ import annotations

import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import otelml
import otelml.testing


def main() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, _ = train_test_split(X, y, random_state=0)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pipeline.fit(X_train, y_train)

    with otelml.testing.capture() as telemetry:
        # --- the lines that matter -----------------------------------------------------------
        clf = otelml.instrument(pipeline, model="breast-cancer", version="1.0.0")
        scores = clf.predict_proba(X_test)  # a batch: one span, features binned once per column

        @otelml.observe(model="breast-cancer", version="1.0.0", log_predictions=True)
        def predict_one(row: dict[str, float]) -> int:
            return int(pipeline.predict(pd.DataFrame([row]))[0])

        label = predict_one(X_test.iloc[0].to_dict())  # one row: one span
        ids = otelml.last_prediction_ids()
        # ---------------------------------------------------------------------------------------

        print(f"scored {len(scores)} rows; single prediction {label} with id {ids[0][:8]}…")
        for span in telemetry.spans():
            attrs = span.attributes or {}
            print(
                f"span {span.name!r}: batch size {attrs.get('ml.batch.size')}, "
                f"model {attrs.get('ml.model.name')} {attrs.get('ml.model.version')}"
            )
        [count] = telemetry.points("ml.prediction.count", {"ml.segment": ""})
        print(f"metric ml.prediction.count = {count.value}")
        features = telemetry.points("ml.feature.values")
        names = sorted({p.attributes["ml.feature.name"] for p in features})
        print(f"metric ml.feature.values: {len(names)} features, e.g. {names[0]!r}")
        radius = telemetry.points("ml.feature.values", {"ml.feature.name": "mean radius"})
        print(f"  'mean radius' histogram: {sum(p.count for p in radius)} values")
        scores_hist = telemetry.points("ml.prediction.values")
        print(f"metric ml.prediction.values: {sum(p.count for p in scores_hist)} scores")
        records = telemetry.logs("ml.prediction")  # instrument: one per row; observe: by option
        record = next(r for r in records if r.attributes["ml.prediction.id"] == ids[0])
        print(f"log records ml.prediction: {len(records)}, e.g. for id {ids[0][:8]}…")
        print(f"log record ml.prediction for id {record.attributes['ml.prediction.id'][:8]}…")
        print(f"telemetry errors swallowed: {len(telemetry.errors)}")


if __name__ == "__main__":
    main()
