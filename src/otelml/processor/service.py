"""The running processor: store, receivers and the metrics/API app on one asyncio loop.

Start order: open the store (rebuilding the state), start the metrics app (processor-eval's
``otelml.processor.api.app.make_http_app(ctx)``; a minimal /healthz + /readyz until it exists), then
the receivers, then set ``ctx.ready``. Each listener prints one line
``otelml: <name> listening on <scheme>://<host>:<port>`` on stdout, then ``otelml: ready``.
Stop order (SIGTERM / SIGINT): clear ready, stop accepting (receivers close, in-flight requests
get a grace period), flush the write queue and compact, stop the metrics app, close the store.
``start`` and ``stop`` are idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import ssl
import sys
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from otelml.processor.config import ProcessorConfig
from otelml.processor.inflight import InflightBudget
from otelml.processor.receive.grpc import bind, make_grpc_server
from otelml.processor.receive.http import make_otlp_http_app
from otelml.processor.receive.ingest import metrics_replayer
from otelml.processor.receive.pipeline import Pipeline
from otelml.processor.receive.series import IngestOptions
from otelml.processor.security import (
    HostPolicy,
    Tokens,
    grpc_tls_files,
    is_loopback_bind,
    server_ssl_context,
)
from otelml.processor.security.tokens import Listener
from otelml.processor.state.aggregator import Aggregator, Limits
from otelml.processor.state.context import ProcessorContext
from otelml.processor.state.joins import Joins
from otelml.processor.state.store import Store
from otelml.processor.telemetry import ProcessorTelemetry

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT_S = 10.0
EXIT_CORE_FAILED = 70
"""Exit status when a core thread died (EX_SOFTWARE): the supervisor should restart otelml."""


def _print_line(line: str) -> None:
    """Print a status line; a closed stdout (a pipe whose reader left) never stops the service."""
    try:
        print(line, flush=True)
    except (BrokenPipeError, ValueError, OSError):
        # Point stdout at devnull so that the interpreter's own flush at exit stays quiet.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
        log.info("stdout is closed; status lines go to the log only: %s", line)


def _split(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


def _fallback_app(ctx: ProcessorContext) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        ok = ctx.ready
        return web.json_response({"ready": ok}, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


def _metrics_app(ctx: ProcessorContext) -> web.Application:
    try:
        from otelml.processor.api import app as api

        app: web.Application = api.make_http_app(ctx)
    except ImportError:
        # The API (or a part of otelml it needs) is not in this build: keep ingesting and
        # answer health checks, so that data is not lost while it is missing.
        log.exception("the metrics/API app is unavailable; serving /healthz and /readyz only")
        return _fallback_app(ctx)
    return app


class ProcessorService:
    """One processor: call :meth:`start`, then :meth:`stop` (or :meth:`run` until a signal)."""

    def __init__(
        self,
        config: ProcessorConfig,
        *,
        clock: Callable[[], float] = time.time,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self._announce = announce or _print_line
        self.telemetry = ProcessorTelemetry()
        self.aggregator = Aggregator(
            config.state.resolution_s,
            config.state.retention_s,
            limits=Limits(
                config.limits.max_models,
                config.limits.max_features_per_model,
                config.limits.max_segments_per_model,
            ),
            clock=clock,
            on_overflow=self.telemetry.overflow,
        )
        s = config.storage
        self.store = Store(
            config.db_path(),
            self.aggregator,
            telemetry=self.telemetry,
            queue_size=s.queue_size,
            max_batch=s.max_batch,
            synchronous=s.synchronous,
            compact_interval_s=s.compact_interval_s,
            replay=metrics_replayer(IngestOptions.from_config(config)),
            max_categories=config.limits.max_categories_per_feature,
            max_streams=config.limits.max_streams,
            stream_ttl_s=config.state.stream_ttl_s,
            clock=clock,
        )
        self.pipeline = Pipeline(
            self.store,
            IngestOptions.from_config(config),
            self.telemetry,
            clock=clock,
            budget=InflightBudget(config.limits.max_inflight_mib * 1024 * 1024),
            max_gzip_ratio=config.limits.max_gzip_ratio,
        )
        self.ctx = ProcessorContext(
            config=config,
            aggregator=self.aggregator,
            telemetry=self.telemetry,
            db_path=config.db_path(),
            clock=clock,
        )
        self.ctx.extras["pipeline"] = self.pipeline
        # One set of tokens for every listener: a token file is watched once.
        self.tokens = Tokens.from_config(config.auth, clock=time.monotonic)
        self.ctx.extras["tokens"] = self.tokens
        self.ctx.extras["store"] = self.store
        # The ground-truth join: its commit completes before the logs request is acknowledged.
        self.joins = Joins(config.db_path(), config, known_model=self._known_model, clock=clock)
        self.pipeline.event_hooks.append(self.joins)
        self.ctx.extras["joins"] = self.joins
        self.addresses: dict[str, str] = {}
        self._grpc: Any = None
        self._runners: list[web.AppRunner] = []
        self._started = False
        self._stopped = False
        self._stop_event: asyncio.Event | None = None
        self.exit_code = 0
        """0, or :data:`EXIT_CORE_FAILED` once a core thread died (the supervisor restarts)."""
        self.ctx.checks["store writer"] = lambda: self.store.alive
        self.ctx.checks["join writer"] = lambda: self.joins.alive

    async def start(self) -> None:
        """Open the store, bind every listener, and mark the processor ready; idempotent."""
        if self._started:
            return
        self._started = True
        loop = asyncio.get_running_loop()
        for name, part in (("store writer", self.store), ("join writer", self.joins)):
            part.on_failure(functools.partial(self._core_failed_threadsafe, loop, name))
        await asyncio.to_thread(self.store.open)
        await asyncio.to_thread(self.joins.open)
        cfg = self.config
        if cfg.export.prometheus.enabled:
            p = cfg.export.prometheus
            ssl_context = server_ssl_context(p.tls)
            addr = await self._serve_app(_metrics_app(self.ctx), p.endpoint, ssl_context)
            self._listening("metrics", f"{'https' if ssl_context else 'http'}://{addr}")
            self._warn_if_open("the API and /metrics", p.endpoint, "api")
        if cfg.receivers.grpc.enabled:
            g = cfg.receivers.grpc
            self._grpc = make_grpc_server(
                self.pipeline,
                max_recv_mib=g.max_recv_msg_size_mib,
                max_concurrent_streams=g.max_concurrent_streams,
                idle_timeout_s=cfg.limits.idle_timeout_s,
                retry_after_s=cfg.storage.retry_after_s,
                tokens=self.tokens,
            )
            host, port = _split(g.endpoint)
            tls = grpc_tls_files(g.tls)
            bound = bind(self._grpc, f"{host}:{port}", tls)
            await self._grpc.start()
            self._listening("otlp-grpc", f"{'grpcs' if tls else 'grpc'}://{host}:{bound}")
            self._warn_if_open("OTLP/gRPC", g.endpoint, "otlp")
        if cfg.receivers.http.enabled:
            h = cfg.receivers.http
            app = make_otlp_http_app(
                self.pipeline,
                max_body=h.max_request_body_mib * 1024 * 1024,
                retry_after_s=cfg.storage.retry_after_s,
                tokens=self.tokens,
                hosts=HostPolicy.for_listener(h.endpoint, h.allowed_hosts),
            )
            ssl_context = server_ssl_context(h.tls)
            # Bodies are gunzipped by the receiver itself, bounded (zip bombs) and with a 400
            # for a broken stream, so aiohttp must pass them through as they came.
            addr = await self._serve_app(app, h.endpoint, ssl_context, auto_decompress=False)
            self._listening("otlp-http", f"{'https' if ssl_context else 'http'}://{addr}")
            self._warn_if_open("OTLP/HTTP", h.endpoint, "otlp")
        self.ctx.ready = True
        self._announce("otelml: ready")

    def _core_failed_threadsafe(
        self, loop: asyncio.AbstractEventLoop, name: str, exc: BaseException
    ) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nothing to stop
            loop.call_soon_threadsafe(self._core_failed, name, exc)

    def _core_failed(self, name: str, exc: BaseException) -> None:
        """A core thread died: not ready from now on, and exit non-zero for a restart."""
        log.critical("the %s died (%r): stopping so that a supervisor restarts otelml", name, exc)
        self.exit_code = EXIT_CORE_FAILED
        self.ctx.ready = False
        self.request_stop()

    def _known_model(self, model: str) -> bool:
        """Return whether any telemetry or a baseline of ``model`` reached the processor."""
        if any(mk[0] == model for mk in self.aggregator.models()):
            return True
        registry = self.ctx.registry
        return registry is not None and bool(registry.list(model))

    def _listening(self, name: str, url: str) -> None:
        self.addresses[name] = url
        self._announce(f"otelml: {name} listening on {url}")

    def _warn_if_open(self, what: str, endpoint: str, listener: Listener) -> None:
        if not is_loopback_bind(endpoint) and not self.tokens.protects(listener):
            log.warning(
                "%s listen beyond loopback (%s) without bearer tokens: anyone who reaches the "
                "port may use them (see auth.* in docs/processor.md)",
                what,
                endpoint,
            )

    async def _serve_app(
        self,
        app: web.Application,
        endpoint: str,
        ssl_context: ssl.SSLContext | None = None,
        **server_kwargs: Any,
    ) -> str:
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            # Also closes a connection that never sends a request (aiohttp arms it at connect).
            keepalive_timeout=self.config.limits.idle_timeout_s,
            **server_kwargs,
        )
        await runner.setup()
        self._runners.append(runner)
        host, port = _split(endpoint)
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        sock = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
        return f"{host}:{sock[1]}"

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop accepting, flush the write queue, and close everything; idempotent."""
        if self._stopped or not self._started:
            return
        self._stopped = True
        self.ctx.ready = False
        if self._grpc is not None:
            await self._grpc.stop(grace_s)
        # OTLP/HTTP receiver last in the list: close receivers before the metrics app.
        for runner in reversed(self._runners[1:] if self._has_metrics() else self._runners):
            await runner.cleanup()
        # Bounded: whatever the writers do, SIGTERM ends well within a pod's grace period;
        # what was not durable by then was never acknowledged, and its clients retry.
        await asyncio.to_thread(self.store.close, _CLOSE_TIMEOUT_S)
        await asyncio.to_thread(self.joins.close, _CLOSE_TIMEOUT_S)
        if self._has_metrics():
            await self._runners[0].cleanup()
        self._announce("otelml: stopped")

    def _has_metrics(self) -> bool:
        return self.config.export.prometheus.enabled and bool(self._runners)

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop (signal handlers call it)."""
        if self._stop_event is not None:
            self._stop_event.set()

    async def run(self) -> None:
        """Start, wait for SIGTERM / SIGINT (or :meth:`request_stop`), then stop."""
        self._stop_event = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
            await self._stop_event.wait()
        finally:
            await self.stop()


def serve(config: ProcessorConfig) -> int:
    """Run a processor until SIGTERM / SIGINT; return the exit status."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    service = ProcessorService(config)
    asyncio.run(service.run())
    return service.exit_code
