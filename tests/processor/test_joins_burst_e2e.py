"""Every record of a short-lived labelling script reaches the join: 20,000 predictions and
20,000 actuals in bursts, through the real OTLP/gRPC exporter, from a process that never calls
flush and simply ends (the client drains at exit), into a real ``otelml serve``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from . import promtext
from .conftest import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N = 20_000
SRC = Path(__file__).resolve().parents[2] / "src"

_SCRIPT = textwrap.dedent(
    """
    import sys
    import otelml

    n, batch, burst = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    otelml.configure("burst", protocol="grpc", export_interval_ms=3_600_000)

    @otelml.observe(model="burst", version="1", task="regression", log_predictions=True)
    def predict(rows):
        return [float(r["x"]) for r in rows]

    ids = []
    for start in range(0, n, batch):
        predict([{"x": float(i)} for i in range(start, min(n, start + batch))])
        ids.extend(otelml.last_prediction_ids())
    assert len(set(ids)) == n, len(set(ids))
    for start in range(0, n, burst):
        chunk = ids[start : start + burst]
        otelml.record_actuals(model="burst", ids=chunk, actuals=[1.0] * len(chunk))
    print("sent", len(ids), flush=True)
    # no flush, no shutdown: the interpreter ends here
    """
)


def _joined(svc: ServiceProcess) -> dict[str, float]:
    with urllib.request.urlopen(svc.metrics_url + "/metrics", timeout=10) as resp:
        fams = promtext.parse(resp.read().decode())
    out: dict[str, float] = {}
    for name in ("otelml_actuals_total", "otelml_predictions_pending"):
        for _, labels, v in fams[name].samples if name in fams else ():
            if labels.get("model") == "burst":
                out[labels.get("outcome", name)] = v
    return out


def test_every_prediction_and_actual_of_a_short_lived_process_is_joined(
    processor_service: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    svc = processor_service()
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{svc.grpc_endpoint}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
    }
    env.pop("OTEL_SDK_DISABLED", None)
    script = tmp_path / "burst.py"
    script.write_text(_SCRIPT)
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script), str(N), "500", "5000"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    elapsed = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"sent {N}" in done.stdout, done.stdout + done.stderr[-3000:]
    # The script has ended: whatever the processor acknowledged is all there will ever be.
    deadline = time.monotonic() + 60
    got = _joined(svc)
    while got.get("joined") != N and time.monotonic() < deadline:
        time.sleep(0.5)
        got = _joined(svc)
    assert got.get("joined") == N, (got, done.stderr[-3000:])
    assert got.pop("otelml_predictions_pending", 0) == 0, got  # absent when none wait
    lost = {k: v for k, v in got.items() if k in ("rejected", "expired", "duplicate") and v}
    assert lost == {}, got
    print(f"{N:,} predictions + {N:,} actuals joined; the script ran {elapsed:.1f} s")
