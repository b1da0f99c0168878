"""A FastAPI model service: OpenTelemetry's FastAPI instrumentation for HTTP, otelml for the model.

Run (see README.md beside this file)::

    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 \\
        uvicorn app:app --app-dir examples/fastapi_service --port 8000

Each ``POST /predict`` gives one trace: the HTTP server span of the FastAPI instrumentation with
otelml's ``predict breast-cancer`` span inside it. The same meter provider carries the HTTP
metrics (``http.server.request.duration``) and the model's (``ml.prediction.count``,
``ml.feature.values``, ...), and one ``ml.prediction`` log record per request is keyed by the
request's id, so that labels can be joined later with ``otelml.record_actuals``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pandas as pd
from fastapi import FastAPI, HTTPException
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pydantic import BaseModel
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import otelml

MODEL_NAME = "breast-cancer"
MODEL_VERSION = "1.0.0"

# Installs OTLP exporters (read from OTEL_EXPORTER_OTLP_* / OTEL_METRIC_EXPORT_INTERVAL) for
# whatever the process has not set up itself; under `opentelemetry-instrument` it adds nothing.
telemetry = otelml.configure(service_name=os.environ.get("OTEL_SERVICE_NAME", "breast-cancer-api"))


def train() -> tuple[Pipeline, list[str]]:
    """Return a small classifier trained on scikit-learn's bundled breast-cancer data."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pipeline.fit(X, y)
    return pipeline, list(X.columns)


PIPELINE, FEATURES = train()


@otelml.observe(
    model=MODEL_NAME,
    version=MODEL_VERSION,
    task="binary_classification",
    id_from="request_id",  # the id column is not a feature; it keys the ml.prediction record
)
def predict(row: dict[str, Any]) -> float:
    """Return the probability of the positive class (benign) for one row of features."""
    frame = pd.DataFrame([[row[name] for name in FEATURES]], columns=FEATURES)
    return float(PIPELINE.predict_proba(frame)[0, 1])


class PredictRequest(BaseModel):
    """Body of ``POST /predict``: an id the caller will use for the label, and the features."""

    request_id: str
    features: dict[str, float]


class PredictResponse(BaseModel):
    """Answer of ``POST /predict``."""

    request_id: str
    score: float
    label: int


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    telemetry.shutdown()  # uvicorn stops on SIGTERM / Ctrl-C: export what is still pending


app = FastAPI(title="breast-cancer model", lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
async def predict_endpoint(body: PredictRequest) -> PredictResponse:
    missing = [name for name in FEATURES if name not in body.features]
    if missing:
        raise HTTPException(422, f"missing features: {', '.join(missing[:5])}")
    # Called inside the request: the predict span becomes a child of the HTTP server span.
    score = predict({"request_id": body.request_id, **body.features})
    return PredictResponse(request_id=body.request_id, score=score, label=int(score > 0.5))


# The stable HTTP semantic conventions (``http.server.request.duration``, in seconds) rather than
# the instrumentation's older default (``http.server.duration``, in ms); read when instrumenting.
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
# After configure(), so that the instrumentation picks up the providers it installed.
FastAPIInstrumentor.instrument_app(app)
