"""What one observed model does around each call: open the span, read inputs, record results.

The wrappers in :mod:`otelml.instrumentation.observe` call :meth:`Observer.begin` (zone 1,
guarded: on failure the model runs uninstrumented) and :meth:`Observer.finish` (zone 3, guarded:
the real result is always returned). Nothing here ever raises into the caller.
"""

from __future__ import annotations

import contextvars
import inspect
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np
from opentelemetry import context, trace

from otelml import semconv
from otelml.instrumentation import extract
from otelml.instrumentation.aggregate import ModelAggregator
from otelml.instrumentation.config import ConfigError, ObserveConfig
from otelml.instrumentation.flush import HUB
from otelml.instrumentation.guard import GUARD
from otelml.instrumentation.logs import LOGS
from otelml.instrumentation.runtime import Pipes

_LAST_IDS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "otelml_last_prediction_ids", default=()
)
_FIXED_SPAN_ATTRIBUTES = len(semconv.SPAN_ATTRIBUTES)
_PLAIN_SPAN_TYPES = frozenset((float, int, bool))
_MAX_SPAN_PLANS = 64  # distinct row key sets with a precomputed span plan; others go per value
_NO_PLAN = object()
SpanPlan = tuple[tuple[str, ...], tuple[int, ...] | None] | None
"""Attribute keys of a row's span features and their positions (None: all, in order)."""


def last_prediction_ids() -> tuple[str, ...]:
    """Return the prediction ids of the latest observed call in this thread or task.

    Ids come from ``id_from`` when given, else they are generated (32 hex digits). Empty when
    prediction logging is off for that model or telemetry is disabled.
    """
    return _LAST_IDS.get()


def baseline_bins(
    baseline: Any,
) -> tuple[dict[str, tuple[float, ...]], dict[str, str], tuple[float, ...] | None]:
    """Return (edges per numeric feature, kind per feature, prediction edges) of a baseline.

    ``baseline``: None, a path to a baseline JSON file, an ``otelml.stats.Baseline``, or a
    mapping of feature name to bin edges.
    """
    if baseline is None:
        return {}, {}, None
    if isinstance(baseline, (str, os.PathLike)):
        from otelml.baselines import load_baseline

        try:
            baseline = load_baseline(baseline)
        except Exception as exc:
            raise ConfigError(f"baseline: cannot load {os.fspath(baseline)!r}: {exc}") from exc
    if isinstance(baseline, Mapping):
        edges = {}
        for name, e in baseline.items():
            arr = np.asarray(e, dtype=np.float64)
            if arr.ndim != 1 or not np.all(np.isfinite(arr)) or np.any(np.diff(arr) <= 0):
                raise ConfigError(f"baseline: edges of {name!r} must be finite and increasing")
            edges[str(name)] = tuple(arr.tolist())
        return edges, {k: "numeric" for k in edges}, None
    features = getattr(baseline, "features", None)
    if not isinstance(features, Mapping):
        raise ConfigError(f"baseline: expected a path, a Baseline or a mapping, got {baseline!r}")
    edges, kinds = {}, {}
    for name, fb in features.items():
        kinds[name] = fb.kind
        if fb.kind == "numeric":
            edges[name] = tuple(fb.edges)
    pred = getattr(baseline, "prediction", None)
    pred_edges = tuple(pred.edges) if pred is not None and pred.kind == "numeric" else None
    return edges, kinds, pred_edges


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
        self._attr_keys: dict[str, str | None] = {}
        self._span_plans: dict[tuple[str, ...], SpanPlan | object] = {}
        self._max_span_features = max(
            0, cfg.span_attribute_limit - _FIXED_SPAN_ATTRIBUTES - len(cfg.segment_by)
        )

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
            self._log(call, ids, outputs, inputs)
        span = call.span
        if span is not None and not stream_item and span.is_recording():
            span.set_attributes(self._span_attributes(inputs, outputs, ids, n, pipes.metrics))

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
        cols = inputs.columns or {}
        codes = np.zeros(n, dtype=np.int64)
        uniques = []
        for c in by:
            col = cols.get(c)
            column = np.full(n, "None", dtype=object) if col is None else np.asarray(col)
            u, inv = np.unique(column.astype(str), return_inverse=True)
            codes = codes * len(u) + inv.reshape(-1)
            uniques.append(u)
        groups = []
        keys, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        for g, i in enumerate(first.tolist()):
            values: dict[str, str] = {}
            rem = int(codes[i])
            for c, u in zip(reversed(by), reversed(uniques), strict=True):
                values[c] = str(u[rem % len(u)])
                rem //= len(u)
            idx = np.flatnonzero(inverse.reshape(-1) == g)
            groups.append((self._segment_name(semconv.segment_key(values)), idx))
        del keys
        return None, groups

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

    # ------------------------------------------------------------------ spans
    def _attr_key(self, name: str) -> str | None:
        key = self._attr_keys.get(name, "")
        if key == "":
            allowed = self.cfg.feature_on_span(name) and len(self._attr_keys) < 10_000
            key = semconv.feature_attribute(name) if allowed else None
            self._attr_keys[name] = key
        return key

    def _span_plan(self, names: tuple[str, ...]) -> SpanPlan:
        # Per key set: the attribute keys of the features that go on spans (within the
        # attribute budget), or None when one of them is masked or hashed.
        picked = [(i, key) for i, key in enumerate(map(self._attr_key, names)) if key is not None]
        cfg = self.cfg
        if any(names[i] in cfg.mask_features or names[i] in cfg.hash_features for i, _ in picked):
            return None
        picked = picked[: self._max_span_features]
        keys = tuple(key for _, key in picked)
        idx = None if len(keys) == len(names) else tuple(i for i, _ in picked)
        return keys, idx

    def _plain_features(self, row: Mapping[str, Any], attrs: dict[str, Any]) -> bool:
        """Put the row's span features into ``attrs`` in one step when every value is a plain
        number (what :meth:`ObserveConfig.span_value` returns unchanged); False otherwise."""
        names = tuple(row)
        plans = self._span_plans
        found = plans.get(names, _NO_PLAN)
        if found is _NO_PLAN:
            if len(plans) >= _MAX_SPAN_PLANS:
                return False
            found = plans[names] = self._span_plan(names)
        if found is None:
            return False
        keys, idx = cast(tuple[tuple[str, ...], tuple[int, ...] | None], found)
        values = tuple(row.values())
        if idx is not None:
            values = tuple([values[i] for i in idx])
        if not set(map(type, values)) <= _PLAIN_SPAN_TYPES:
            return False
        attrs.update(zip(keys, values, strict=True))
        return True

    def _span_attributes(
        self,
        inputs: extract.Inputs | None,
        outputs: extract.Outputs | None,
        ids: list[str] | None,
        n: int,
        aggregated: bool,
    ) -> dict[str, Any]:
        cfg = self.cfg
        attrs: dict[str, Any] = {semconv.BATCH_SIZE: n, semconv.AGGREGATED: aggregated}
        if ids:
            if n == 1:
                attrs[semconv.PREDICTION_ID] = ids[0]
            else:
                attrs[semconv.PREDICTION_IDS] = ids[: cfg.max_span_ids]
        if outputs is not None and outputs.n == 1:
            if outputs.values is not None:
                attrs[semconv.PREDICTION_VALUE] = float(outputs.values[0])
            if outputs.labels is not None:
                attrs[semconv.PREDICTION_LABEL] = str(outputs.labels[0])[: cfg.max_string_length]
        row = inputs.row if inputs is not None else None
        if row is not None:
            for c in cfg.segment_by:
                attrs[semconv.segment_attribute(c)] = str(row.get(c))[: cfg.max_string_length]
            if cfg.span_features is not False and not self._plain_features(row, attrs):
                budget = self._max_span_features
                for name, v in row.items():
                    key = self._attr_key(name)
                    if key is not None and v is not None and budget > 0:
                        attrs[key] = cfg.span_value(name, v)
                        budget -= 1
        # Identity LAST: the SDK drops the oldest attribute when a span exceeds its limit.
        attrs.update(self._identity)
        return attrs

    # ------------------------------------------------------------------ logs
    def _log(
        self,
        call: Call,
        ids: list[str],
        outputs: extract.Outputs,
        inputs: extract.Inputs | None,
    ) -> None:
        ctx = trace.set_span_in_context(call.span) if call.span is not None else None
        when = time.time_ns()
        base = self._log_base
        by = self.cfg.segment_by
        seg_cols: dict[str, list[str]] = {}
        if inputs is not None and by:
            if inputs.row is not None:
                seg_cols = {c: [str(inputs.row.get(c))] for c in by}
            elif inputs.columns is not None:
                seg_cols = {
                    c: [str(v) for v in inputs.columns[c].tolist()]
                    for c in by
                    if c in inputs.columns
                }
        values, labels, scores = outputs.values, outputs.labels, outputs.scores
        classes = list(outputs.classes) if outputs.classes is not None else None

        def build() -> list[tuple[dict[str, Any], int | None]]:
            records: list[tuple[dict[str, Any], int | None]] = []
            vals = None if values is None else np.asarray(values, dtype=np.float64).tolist()
            labs = None if labels is None else [str(x) for x in labels]
            scs = None if scores is None else scores.tolist()
            for i, pid in enumerate(ids):
                attrs: dict[str, Any] = {
                    **base,
                    semconv.PREDICTION_ID: pid,
                    semconv.PREDICTION_TIME: when,
                }
                if vals is not None:
                    attrs[semconv.PREDICTION_VALUE] = vals[i]
                if labs is not None:
                    attrs[semconv.PREDICTION_LABEL] = labs[i]
                if scs is not None:
                    attrs[semconv.PREDICTION_SCORES] = scs[i]
                    attrs[semconv.PREDICTION_CLASSES] = classes
                for c, col in seg_cols.items():
                    attrs[semconv.segment_attribute(c)] = col[i]
                records.append((attrs, when))
            return records

        LOGS.put(call.pipes.logger, semconv.PREDICTION_EVENT, ctx, len(ids), build)


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
