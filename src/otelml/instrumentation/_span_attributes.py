"""Span attributes of one observed call: batch size, ids, outputs, segments and features."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from otelml import semconv
from otelml.instrumentation import extract
from otelml.instrumentation.config import ObserveConfig

_FIXED_SPAN_ATTRIBUTES = len(semconv.SPAN_ATTRIBUTES)
_PLAIN_SPAN_TYPES = frozenset((float, int, bool))
_MAX_SPAN_PLANS = 64  # distinct row key sets with a precomputed span plan; others go per value
_NO_PLAN = object()
SpanPlan = tuple[tuple[str, ...], tuple[int, ...] | None] | None
"""Attribute keys of a row's span features and their positions (None: all, in order)."""


class SpanAttributes:
    """Builds the attributes of one model's spans, remembering per feature name and key set
    which features go on spans and under which attribute key."""

    def __init__(self, cfg: ObserveConfig, identity: Mapping[str, Any]) -> None:
        self.cfg = cfg
        self._identity = identity
        self._keys: dict[str, str | None] = {}
        self._plans: dict[tuple[str, ...], SpanPlan | object] = {}
        self.max_features = max(
            0, cfg.span_attribute_limit - _FIXED_SPAN_ATTRIBUTES - len(cfg.segment_by)
        )

    def attr_key(self, name: str) -> str | None:
        """Return the span attribute key of feature ``name`` (None: it stays off spans)."""
        key = self._keys.get(name, "")
        if key == "":
            allowed = self.cfg.feature_on_span(name) and len(self._keys) < 10_000
            key = semconv.feature_attribute(name) if allowed else None
            self._keys[name] = key
        return key

    def _span_plan(self, names: tuple[str, ...]) -> SpanPlan:
        # Per key set: the attribute keys of the features that go on spans (within the
        # attribute budget), or None when one of them is masked or hashed.
        picked = [(i, key) for i, key in enumerate(map(self.attr_key, names)) if key is not None]
        cfg = self.cfg
        if any(names[i] in cfg.mask_features or names[i] in cfg.hash_features for i, _ in picked):
            return None
        picked = picked[: self.max_features]
        keys = tuple(key for _, key in picked)
        idx = None if len(keys) == len(names) else tuple(i for i, _ in picked)
        return keys, idx

    def _plain_features(self, row: Mapping[str, Any], attrs: dict[str, Any]) -> bool:
        """Put the row's span features into ``attrs`` in one step when every value is a plain
        number (what :meth:`ObserveConfig.span_value` returns unchanged); False otherwise."""
        names = tuple(row)
        plans = self._plans
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

    def build(
        self,
        inputs: extract.Inputs | None,
        outputs: extract.Outputs | None,
        ids: list[str] | None,
        n: int,
        aggregated: bool,
    ) -> dict[str, Any]:
        """Return the attributes of a call's span; the model's identity comes last."""
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
                budget = self.max_features
                for name, v in row.items():
                    key = self.attr_key(name)
                    if key is not None and v is not None and budget > 0:
                        attrs[key] = cfg.span_value(name, v)
                        budget -= 1
        # Identity LAST: the SDK drops the oldest attribute when a span exceeds its limit.
        attrs.update(self._identity)
        return attrs
