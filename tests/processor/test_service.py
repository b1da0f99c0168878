"""ProcessorService in process: start/stop idempotent, readiness, listeners on free ports."""

from __future__ import annotations

from pathlib import Path

from aiohttp import ClientSession

from otelml.processor.config import config_from_dict
from otelml.processor.service import ProcessorService

from .otlpdata import metrics_request, model_attrs, sum_metric


async def test_start_stop_idempotent_and_ready(tmp_path: Path) -> None:
    config = config_from_dict(
        {
            "storage": {"path": str(tmp_path / "s.db")},
            "receivers": {"grpc": {"endpoint": "127.0.0.1:0"}, "http": {"endpoint": "127.0.0.1:0"}},
            "export": {"prometheus": {"endpoint": "127.0.0.1:0"}},
        }
    )
    lines: list[str] = []
    svc = ProcessorService(config, announce=lines.append)
    assert not svc.ctx.ready
    await svc.start()
    await svc.start()
    assert svc.ctx.ready
    assert set(svc.addresses) == {"metrics", "otlp-grpc", "otlp-http"}
    assert lines[-1] == "otelml: ready"
    body = metrics_request(
        sum_metric("ml.feature.missing", [(model_attrs(feature="a"), 2)])
    ).SerializeToString()
    async with ClientSession() as s:
        async with s.get(svc.addresses["metrics"] + "/healthz") as resp:
            assert resp.status == 200
        async with s.post(
            svc.addresses["otlp-http"] + "/v1/metrics",
            data=body,
            headers={"Content-Type": "application/x-protobuf"},
        ) as resp:
            assert resp.status == 200
    await svc.stop()
    await svc.stop()
    assert not svc.ctx.ready
    assert lines[-1] == "otelml: stopped"
    # What was acknowledged is on disk: a new service sees it.
    again = ProcessorService(config, announce=lines.append)
    await again.start()
    assert sum(w.missing for w in again.aggregator.totals().values()) == 2
    await again.stop()
