"""An ``otelml serve`` processor running inside the demo's process, on its own event loop thread.

The demo needs a processor but must not need anything installed or running: this starts the
real :class:`~otelml.processor.service.ProcessorService` (same receivers, store, evaluator and
API as ``otelml serve``) on a background thread, with OTLP on free loopback ports, SQLite in the
demo's state directory, one-second resolution windows and a short evaluation window so drift
shows within seconds rather than the production default of an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_METRICS_PORT = 9464
"""Where ``otelml serve`` puts ``/metrics``; the demo uses it too unless it is taken."""


def port_is_free(host: str, port: int) -> bool:
    """Return whether a listener could bind ``host:port`` now (as aiohttp would bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # aiohttp binds with SO_REUSEADDR, so a port held only by TIME_WAIT sockets is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def metrics_endpoint(port: int | None) -> tuple[str, bool]:
    """Return the ``host:port`` for ``/metrics`` and whether it moved off the wanted port.

    ``None`` wants :data:`DEFAULT_METRICS_PORT` and takes a free port when that one is busy
    (say, a real ``otelml serve`` already runs); ``0`` always takes a free port; any other
    port is used as given (a busy one then fails at start, with the processor's error).
    """
    host = "127.0.0.1"
    if port is None:
        if port_is_free(host, DEFAULT_METRICS_PORT):
            return f"{host}:{DEFAULT_METRICS_PORT}", False
        return f"{host}:0", True
    return f"{host}:{port}", False


def demo_config(
    db_path: Path,
    metrics: str,
    *,
    window_s: int,
    performance_window_s: int,
    interval_s: int = 1,
) -> Any:  # ProcessorConfig; Any keeps the processor import out of module level
    """Return the processor configuration of the demo (validated).

    ``performance_window_s`` is the window of realised and estimated performance, by
    prediction time; longer than the drift window, since labels arrive late.
    """
    import dataclasses

    from otelml.processor.config import ProcessorConfig, config_from_dict

    data: dict[str, Any] = {
        "receivers": {
            "grpc": {"endpoint": "127.0.0.1:0"},
            "http": {"endpoint": "127.0.0.1:0"},
        },
        # "normal": a demo database need not survive power loss, and fsync per commit would
        # make the demo's speed depend on the disk.
        "storage": {"path": str(db_path), "synchronous": "normal"},
        "state": {"resolution_s": 1, "retention_s": 3600},
        "evaluation": {
            "interval_s": interval_s,
            "window_s": window_s,
            # The demo uploads its baseline first; "auto" would fall back to a rolling
            # previous-window reference for the instant before it arrives.
            "reference": "baseline",
        },
        "export": {"prometheus": {"endpoint": metrics}},
    }
    if "performance" in {f.name for f in dataclasses.fields(ProcessorConfig)}:
        # Processors with the ground-truth join: performance windows of one second, too.
        data["performance"] = {
            "resolution_s": 1,
            "window_s": performance_window_s,
            "retention_s": 3600,
        }
    return config_from_dict(data)


@dataclass(frozen=True)
class Endpoints:
    """Where the embedded processor listens."""

    metrics_url: str
    """``http://host:port`` of /metrics, /healthz and the JSON API."""
    otlp_grpc: str
    """``host:port`` of the OTLP/gRPC receiver."""
    otlp_http: str
    """``http://host:port`` of the OTLP/HTTP receiver."""


class EmbeddedProcessor:
    """A processor service on a private asyncio loop thread: :meth:`start`, then :meth:`stop`."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._service: Any = None
        self.endpoints: Endpoints | None = None

    def start(self, timeout_s: float = 60.0) -> Endpoints:
        """Start the service (store opened, listeners bound, ready) and return its endpoints."""
        from otelml.processor.service import ProcessorService

        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run_loop, args=(loop,), name="otelml-demo-processor", daemon=True
        )
        self._thread.start()

        async def create_and_start() -> Any:
            # Created on the loop thread: aiohttp and grpc.aio objects belong to their loop.
            service = ProcessorService(self.config, announce=lambda _line: None)
            self._service = service
            await service.start()
            return service

        try:
            service = asyncio.run_coroutine_threadsafe(create_and_start(), loop).result(timeout_s)
        except BaseException:
            self.stop()
            raise
        addr = service.addresses
        self.endpoints = Endpoints(
            metrics_url=addr["metrics"],
            otlp_grpc=addr["otlp-grpc"].removeprefix("grpc://"),
            otlp_http=addr["otlp-http"],
        )
        return self.endpoints

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop accepting, flush the write queue into SQLite, close; idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        try:
            if self._service is not None:
                fut = asyncio.run_coroutine_threadsafe(self._service.stop(grace_s=1.0), loop)
                fut.result(timeout_s)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout_s)
            if not thread.is_alive():
                with contextlib.suppress(RuntimeError):
                    loop.close()
