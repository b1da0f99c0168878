"""What one observed model does around each call: open the span, read inputs, record results.

The wrappers in :mod:`otelml.instrumentation.observe` call :meth:`Observer.begin` (zone 1,
guarded: on failure the model runs uninstrumented) and :meth:`Observer.finish` (zone 3, guarded:
the real result is always returned). Nothing here ever raises into the caller.
"""

from __future__ import annotations

import contextvars
import inspect
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from opentelemetry import context, trace

from otelml import semconv
from otelml.instrumentation import extract
from otelml.instrumentation._baseline_bins import baseline_bins as baseline_bins
from otelml.instrumentation._prediction_logs import log_predictions
from otelml.instrumentation._segments import segment_groups
from otelml.instrumentation._span_attributes import SpanAttributes
from otelml.instrumentation._span_attributes import SpanPlan as SpanPlan
from otelml.instrumentation.aggregate import ModelAggregator
from otelml.instrumentation.config import ObserveConfig
from otelml.instrumentation.flush import HUB
from otelml.instrumentation.guard import GUARD
from otelml.instrumentation.runtime import Pipes

_LAST_IDS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "otelml_last_prediction_ids", default=()
)


def last_prediction_ids() -> tuple[str, ...]:
    """Return the prediction ids of the latest observed call in this thread or task.

    Ids come from ``id_from`` when given, else they are generated (32 hex digits). Empty when
    prediction logging is off for that model or telemetry is disabled.
    """
    return _LAST_IDS.get()


class Call:
    """State of one call between :meth:`Observer.begin` and :meth:`Observer.finish`."""

    __slots__ = ("inputs", "pipes", "span", "t0", "token")

    def __init__(self, pipes: Pipes) -> None:
        self.pipes = pipes
        self.t0 = time.perf_counter()
        self.span: Any = None
        self.token: Any = None
        self.inputs: extract.Inputs | None = None


class Observer:
    """Records the calls of one decorated function (or estimator method)."""

    def __init__(
        self,
        cfg: ObserveConfig,
        fn: Callable[..., Any],
        *,
        feature_names: Callable[[], Sequence[str] | None] | None = None,
        skip_first: bool | None = None,
        bins: tuple[Any, Any, Any] | None = None,
    ) -> None:
        self.cfg = cfg
        self.span_name = semconv.span_name(cfg.model)
        self._feature_names = feature_names or (lambda: cfg.feature_names)
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        if skip_first is None:
            skip_first = bool(params) and params[0].name in ("self", "cls")
        self._skip = 1 if skip_first else 0
        positional = [
            p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        self._names = positional[self._skip :]
        edges, kinds, pred_edges = bins or baseline_bins(cfg.baseline)
        self._pred_edges: tuple[float, ...] | None = pred_edges
        self._edges, self._kinds = dict(edges), dict(kinds)
        for name in cfg.categorical:
            self._kinds[name] = "categorical"
            self._edges.pop(name, None)
        self._identity = {
            semconv.MODEL_TASK: cfg.task,
            semconv.ENVIRONMENT: cfg.environment,
            semconv.MODEL_VERSION: cfg.version,
            semconv.MODEL_NAME: cfg.model,
        }
        self._log_base = {
            semconv.MODEL_NAME: cfg.model,
            semconv.MODEL_VERSION: cfg.version,
            semconv.MODEL_TASK: cfg.task,
            semconv.ENVIRONMENT: cfg.environment,
        }
        self._agg: ModelAggregator | None = None
        self._segments: set[str] = set()
        self._spans = SpanAttributes(cfg, self._identity)

    # ------------------------------------------------------------------ zone 1
    def begin(self, pipes: Pipes, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        """Open the span (current until :meth:`finish`) and read the inputs; raises on failure."""
        call = Call(pipes)
        tracer = pipes.tracer
        if tracer is not None:
            call.span = tracer.start_span(self.span_name, kind=trace.SpanKind.INTERNAL)
            call.token = context.attach(trace.set_span_in_context(call.span))
        try:
            call.inputs = self._read_inputs(args, kwargs)
        except Exception as exc:  # no features, but the span and outputs still count
            GUARD.error("extract_inputs", exc)
        return call

    def abandon(self, call: Call | None) -> None:
        """Undo a half-done :meth:`begin` (context and span) without recording anything."""
        if call is None:
            return
        try:
            self._close(call)
        except Exception as exc:
            GUARD.error("setup", exc)

    def _read_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> extract.Inputs:
        cfg = self.cfg
        names = self._feature_names()
        if cfg.inputs is not None:
            data = cfg.inputs(*args, **kwargs)
        elif cfg.input_arg is not None:
            data = self._argument(cfg.input_arg, args, kwargs)
        else:
            skip = self._skip
            if len(args) > skip:
                data = args[skip]
            elif self._names and self._names[0] in kwargs:
                data = kwargs[self._names[0]]
            else:
                data = None
            if not extract.is_table_like(data):
                # Scalar arguments: the call's arguments, by name, are one row.
                data = dict(zip(self._names, args[skip:], strict=False))
                data.update(kwargs)
        inputs = extract.to_inputs(data, names)
        id_from = cfg.id_from
        if isinstance(id_from, str):
            if inputs.row is not None and id_from in inputs.row:
                inputs.ids = [str(inputs.row[id_from])]
                inputs.row = {k: v for k, v in inputs.row.items() if k != id_from}
            elif inputs.columns is not None and id_from in inputs.columns:
                inputs.ids = [str(v) for v in inputs.columns.pop(id_from).tolist()]
            elif id_from in kwargs:
                ids = kwargs[id_from]
                inputs.ids = (
                    [str(ids)] if isinstance(ids, (str, int)) else [str(i) for i in list(ids)]
                )
        elif id_from is not None:
            ids = id_from(*args, **kwargs)
            inputs.ids = [str(ids)] if isinstance(ids, (str, int)) else [str(i) for i in ids]
        return inputs

    def _argument(self, which: str | int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if isinstance(which, int):
            return args[self._skip + which]
        if which in kwargs:
            return kwargs[which]
        return args[self._skip + self._names.index(which)]

    # ------------------------------------------------------------------ zone 2
    def fail(self, call: Call, exc: BaseException) -> None:
        """Record the model's own exception on the span; the caller re-raises it unchanged."""
        try:
            span = call.span
            if span is not None and isinstance(exc, Exception) and span.is_recording():
                from opentelemetry.trace import Status, StatusCode

                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
                span.set_attributes(self._identity)
        except Exception as err:
            GUARD.error("record_exception", err)
        finally:
            self.abandon(call)

    def _close(self, call: Call) -> None:
        if call.token is not None:
            token, call.token = call.token, None
            context.detach(token)
        if call.span is not None:
            span, call.span = call.span, None
            span.end()

    # ------------------------------------------------------------------ zone 3
    def finish(self, call: Call, result: Any, *, stream_item: bool = False) -> None:
        """Record outputs, metrics, logs and span attributes; never raises."""
        try:
            self._record(call, result, stream_item)
        except Exception as exc:
            GUARD.error("record", exc)
        finally:
            if not stream_item:
                try:
                    self._close(call)
                except Exception as exc:
                    GUARD.error("record", exc)

    def _record(self, call: Call, result: Any, stream_item: bool) -> None:
        cfg = self.cfg
        pipes = call.pipes
        duration = time.perf_counter() - call.t0
        inputs = None if stream_item else call.inputs
        outputs: extract.Outputs | None = None
        try:
            if cfg.outputs is not None:
                result = cfg.outputs(result)
            outputs = extract.to_outputs(result, cfg.task, cfg.classes)
        except Exception as exc:
            GUARD.error("extract_outputs", exc)
        n = inputs.n if inputs is not None else (outputs.n if outputs is not None else 0)
        if outputs is not None and outputs.n != n and inputs is not None:
            outputs = None  # a shape we cannot pair with the rows: keep features, skip outputs
            GUARD.error("output_shape", ValueError("outputs do not match the input rows"))
        ids: list[str] | None = None
        if cfg.log_predictions:
            given = inputs.ids if inputs is not None else None
            ids = given if given is not None and len(given) == n else _new_ids(n)
            _LAST_IDS.set(tuple(ids))
        row_segment, groups = self._segments_of(inputs, n)
        if pipes.metrics:
            self._aggregate(inputs, outputs, n, row_segment, groups, duration, stream_item)
        if pipes.logger is not None and ids and outputs is not None:
            by = cfg.segment_by
            log_predictions(pipes.logger, call.span, self._log_base, by, ids, outputs, inputs)
        span = call.span
        if span is not None and not stream_item and span.is_recording():
            span.set_attributes(self._spans.build(inputs, outputs, ids, n, pipes.metrics))

    # ------------------------------------------------------------------ metrics
    def aggregator(self) -> ModelAggregator:
        """Return this model's aggregator (shared by every observer of the same model)."""
        agg = self._agg
        if agg is None:
            cfg = self.cfg
            agg = self._agg = HUB.aggregator(
                (cfg.model, cfg.version, cfg.environment),
                lambda: ModelAggregator(
                    cfg.model,
                    cfg.version,
                    cfg.environment,
                    edges=self._edges,
                    kinds=self._kinds,
                    prediction_edges=self._pred_edges,
                    max_categories=cfg.max_categories,
                    max_features=cfg.max_features,
                    nan_is_missing=cfg.nan_is_missing,
                ),
            )
        return agg

    def _segment_name(self, key: str) -> str:
        if key in self._segments:
            return key
        if len(self._segments) >= self.cfg.max_segments:
            return semconv.OVERFLOW_VALUE
        self._segments.add(key)
        return key

    def _segments_of(
        self, inputs: extract.Inputs | None, n: int
    ) -> tuple[str | None, list[tuple[str, np.ndarray]] | None]:
        """Return the single row's segment, or (segment, row indices) groups of a batch."""
        by = self.cfg.segment_by
        if not by or inputs is None:
            return None, None
        if inputs.row is not None:
            row = inputs.row
            return self._segment_name(semconv.segment_key({c: str(row.get(c)) for c in by})), None
        groups = segment_groups(by, inputs.columns or {}, n)
        return None, [(self._segment_name(semconv.segment_key(v)), idx) for v, idx in groups]

    def _aggregate(
        self,
        inputs: extract.Inputs | None,
        outputs: extract.Outputs | None,
        n: int,
        row_segment: str | None,
        groups: list[tuple[str, np.ndarray]] | None,
        duration: float,
        stream_item: bool,
    ) -> None:
        agg = self.aggregator()
        if inputs is not None and inputs.row is not None and (outputs is None or outputs.n <= 1):
            value = label = None
            if outputs is not None:
                if outputs.values is not None and len(outputs.values):
                    value = float(outputs.values[0])
                if outputs.labels is not None and len(outputs.labels):
                    label = str(outputs.labels[0])
            segs = ("",) if row_segment is None else ("", row_segment)
            agg.record_row(inputs.row, segs, value, label, duration)
            return
        columns = inputs.columns if inputs is not None and inputs.columns is not None else {}
        values = None if outputs is None else _as_array(outputs.values, np.float64)
        labels = None if outputs is None else _as_array(outputs.labels, object)
        if stream_item:  # outputs of one yielded item: rows were counted at the start
            agg.record_columns({}, 0, "", values, labels, None)
            return
        agg.record_columns(columns, n, "", values, labels, duration)
        for seg, idx in groups or ():
            agg.record_columns(
                {k: v[idx] for k, v in columns.items()},
                len(idx),
                seg,
                None if values is None else values[idx],
                None if labels is None else labels[idx],
                None,
            )

    def record_stream_inputs(self, call: Call) -> None:
        """Count a generator call's input rows at its start (outputs follow per item)."""
        try:
            inputs = call.inputs
            if inputs is None or not call.pipes.metrics:
                return
            row_segment, groups = self._segments_of(inputs, inputs.n)
            agg = self.aggregator()
            if inputs.row is not None:
                segs = ("",) if row_segment is None else ("", row_segment)
                agg.record_row(inputs.row, segs, None, None, 0.0)
                return
            columns = inputs.columns or {}
            agg.record_columns(columns, inputs.n, "", None, None, None)
            for seg, idx in groups or ():
                agg.record_columns(
                    {k: v[idx] for k, v in columns.items()}, len(idx), seg, None, None, None
                )
        except Exception as exc:
            GUARD.error("record", exc)

    def finish_stream(self, call: Call, exc: BaseException | None) -> None:
        """End a generator call: latency, exception, span."""
        try:
            if call.pipes.metrics:
                self.aggregator().record_duration(time.perf_counter() - call.t0)
            span = call.span
            if span is not None and span.is_recording():
                if exc is not None and isinstance(exc, Exception):
                    from opentelemetry.trace import Status, StatusCode

                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
                attrs: dict[str, Any] = {semconv.AGGREGATED: call.pipes.metrics}
                if call.inputs is not None:
                    attrs[semconv.BATCH_SIZE] = call.inputs.n
                attrs.update(self._identity)
                span.set_attributes(attrs)
        except Exception as err:
            GUARD.error("record", err)
        finally:
            self.abandon(call)


def _as_array(x: Any, dtype: Any) -> np.ndarray | None:
    if x is None:
        return None
    return np.asarray(x, dtype=dtype)


def _new_ids(n: int) -> list[str]:
    if n == 1:
        return [uuid.uuid4().hex]
    # One random 96-bit prefix per call plus the row number: unique, and 20x cheaper than
    # a uuid4 per row on large batches.
    prefix = uuid.uuid4().hex[:24]
    return [f"{prefix}{i:08x}" for i in range(n)]
