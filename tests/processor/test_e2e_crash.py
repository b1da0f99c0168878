"""kill -9 under load, restart: every acknowledged request is in the state, exactly once.

A sender thread posts OTLP/HTTP requests as fast as the service acknowledges them. Each request
carries (a) a delta counter on a feature of its own (``f<i>``, value ``i % 7 + 1``), so that
each request's presence and multiplicity can be checked one by one, and (b) the running total
of one cumulative counter, so that the durable cumulative-to-delta state is checked too. The
service is killed with SIGKILL mid-load (compaction runs every 0.3 s, so the kill lands
anywhere between log appends and compactions), restarted on the same file, sent one more
cumulative point, and stopped.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from otelml import semconv
from otelml.processor.state.aggregator import PREDICTION_FEATURE, SeriesKey

from .conftest import ServiceProcess, load_state
from .otlpdata import CUMULATIVE, DELTA, metrics_request, model_attrs, sum_metric

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class Sender:
    """Posts requests until stopped, remembering which were acknowledged."""

    def __init__(self, url: str, start_ns: int) -> None:
        self.url = url
        self.start_ns = start_ns
        self.acked: set[int] = set()
        self.sent = 0
        self.cumulative: list[int] = []  # running total carried by request i
        self.last_acked_total = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def body(self, i: int, total: int) -> bytes:
        req = metrics_request(
            sum_metric(
                semconv.FEATURE_MISSING.name,
                [(model_attrs("crash", feature=f"f{i}"), i % 7 + 1)],
                temporality=DELTA,
            ),
            sum_metric(
                semconv.PREDICTION_COUNT.name,
                [(model_attrs("crash"), total)],
                temporality=CUMULATIVE,
                start_ns=self.start_ns,
            ),
            resource={"service.name": "sender", "service.instance.id": "s1"},
        )
        return req.SerializeToString()

    def post(self, body: bytes) -> int:
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/x-protobuf"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            return int(resp.status)

    def _run(self) -> None:
        total = 0
        i = 0
        while not self._stop.is_set():
            total += i % 5 + 1
            self.cumulative.append(total)
            self.sent = i + 1
            try:
                status = self.post(self.body(i, total))
            except (urllib.error.URLError, ConnectionError, OSError):
                return  # the service is gone
            if status == 200:
                self.acked.add(i)
                self.last_acked_total = total
            i += 1

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(10)


def test_kill9_under_load_keeps_every_acknowledged_request(
    processor_service: Callable[..., ServiceProcess],
) -> None:
    env = {
        "OTELML_LIMITS__MAX_FEATURES_PER_MODEL": "1000000",
        "OTELML_STORAGE__COMPACT_INTERVAL_S": "0.3",
    }
    svc = processor_service(env=env)
    sender = Sender(svc.http_url + "/v1/metrics", time.time_ns())
    sender.thread.start()
    deadline = time.monotonic() + 20
    while len(sender.acked) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    svc.kill9()
    sender.stop()
    assert len(sender.acked) >= 300, "the service acknowledged too little before the kill"

    svc2 = processor_service(env=env, db_path=svc.db_path)
    # One more cumulative point after the restart: the stream's last point survived the
    # crash, so only the increment may be added.
    final_total = sender.cumulative[-1] + 1000
    after = Sender(svc2.http_url + "/v1/metrics", sender.start_ns)
    assert after.post(after.body(10**6, final_total)) == 200
    assert svc2.terminate() == 0

    totals = load_state(svc.db_path).totals()
    for i in range(sender.sent):
        key = SeriesKey("crash", "1", "production", f"f{i}", "")
        got = totals[key].missing if key in totals else 0
        if i in sender.acked:
            assert got == i % 7 + 1, f"acknowledged request {i}: {got}"
        else:
            assert got in (0, i % 7 + 1), f"unacknowledged request {i}: {got}"
    extra = (
        {k.feature for k in totals if k.feature.startswith("f")}
        - {f"f{i}" for i in range(sender.sent)}
        - {"f1000000"}
    )
    assert not extra
    rows = totals[SeriesKey("crash", "1", "production", PREDICTION_FEATURE, "")].rows
    # Every cumulative point carried the running total, so the durable sum is exactly the
    # final total however many of the last requests were durable.
    assert rows == final_total
