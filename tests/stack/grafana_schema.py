"""Validation of dashboard JSON against Grafana's dashboard schema (grafana-foundation-sdk).

grafana-foundation-sdk (the ``10.1.x`` line, pinned in pyproject) holds Python types generated
from Grafana 10.1's CUE schemas: the dashboard kind, every core panel plugin's options and field
config, and the Prometheus query. Its ``from_json`` decoders are lenient (they copy values and
ignore unknown keys), so validation here is two checks on top of decoding:

- **round trip**: decoding then encoding again must give back every key and value of the
  document; a key the schema does not know at that place (a typo, a field of another panel
  type, a wrong nesting) is lost on the way and reported with its path;
- **types**: every decoded value must fit the generated type hints (str, int, float, bool,
  literals, enums, lists, maps, nested schema objects, panel options of the panel's plugin,
  Prometheus queries).

Errors are returned as ``path: message`` strings.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from typing import Any

from grafana_foundation_sdk.cog import encoder, runtime, variants
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard as dashboard_model

register_default_plugins()


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_schema_class(hint: Any) -> bool:
    return isinstance(hint, type) and hasattr(hint, "from_json") and hasattr(hint, "to_json")


def _check(value: Any, hint: Any, path: str, errors: list[str]) -> None:
    if hint is Any or hint is object:
        # Panel options and custom field config are typed `object` on the panel and decoded
        # by the panel plugin's own schema: check what that produced.
        if _is_schema_class(type(value)):
            _check_object(value, path, errors)
        return
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        others = [a for a in args if a is not type(None)]
        if len(others) == 1:
            _check(value, others[0], path, errors)
            return
        for arg in args:
            # An already decoded object is checked against its own class only.
            if _is_schema_class(arg) and isinstance(value, arg):
                _check(value, arg, path, errors)
                return
        trials: list[list[str]] = []
        for arg in args:
            if arg is type(None):
                continue
            errs: list[str] = []
            _check(value, arg, path, errs)
            if not errs:
                return
            trials.append(errs)
        errors.append(f"{path}: {value!r} fits none of {hint}: {trials}")
        return
    if origin is typing.Literal:
        if value not in args:
            errors.append(f"{path}: {value!r} is not one of {args}")
        return
    if origin is list:
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check(item, args[0], f"{path}[{i}]", errors)
        return
    if origin is dict:
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        for k, v in value.items():
            _check(k, args[0], f"{path}.<key>", errors)
            _check(v, args[1], f"{path}.{k}", errors)
        return
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        allowed = {m.value for m in hint}
        raw = value.value if isinstance(value, enum.Enum) else value
        if isinstance(raw, bool) or raw not in allowed:
            errors.append(f"{path}: {value!r} is not one of {sorted(allowed, key=str)}")
        return
    if hint is variants.Dataquery:
        if isinstance(value, runtime.UnknownDataquery) or not isinstance(value, hint):
            errors.append(f"{path}: query of an unknown data source type: {value!r}")
            return
        _check_object(value, path, errors)
        return
    if _is_schema_class(hint):
        if isinstance(value, dict):
            # Some decoders keep nested objects as plain maps (e.g. Panel.links): decode here.
            decoded = hint.from_json(value)
            _round_trip(value, decoded, path, errors)
            value = decoded
        if not isinstance(value, hint):
            errors.append(f"{path}: expected {hint.__name__}, got {type(value).__name__}")
            return
        _check_object(value, path, errors)
        return
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append(f"{path}: expected a number, got {value!r}")
        return
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{path}: expected an integer, got {value!r}")
        return
    if hint in (str, bool):
        if not isinstance(value, hint):
            errors.append(f"{path}: expected {hint.__name__}, got {value!r}")
        return
    errors.append(f"{path}: no check for type {hint!r}")


def _check_object(obj: Any, path: str, errors: list[str]) -> None:
    for name, hint in _hints(type(obj)).items():
        _check(getattr(obj, name), hint, f"{path}.{name}", errors)


def _encoded(obj: Any) -> Any:
    return json.loads(json.dumps(obj, cls=encoder.JSONEncoder))


def _missing(original: Any, encoded: Any, path: str, errors: list[str]) -> None:
    if isinstance(original, dict):
        if not isinstance(encoded, dict):
            errors.append(f"{path}: became {encoded!r}")
            return
        for k, v in original.items():
            if k not in encoded:
                errors.append(f"{path}.{k}: not in the schema here (dropped by the round trip)")
            else:
                _missing(v, encoded[k], f"{path}.{k}", errors)
    elif isinstance(original, list):
        if not isinstance(encoded, list) or len(encoded) != len(original):
            errors.append(f"{path}: list changed in the round trip")
            return
        for i, (a, b) in enumerate(zip(original, encoded, strict=True)):
            _missing(a, b, f"{path}[{i}]", errors)
    elif original != encoded:
        errors.append(f"{path}: {original!r} became {encoded!r}")


def _round_trip(original: Any, decoded: Any, path: str, errors: list[str]) -> None:
    _missing(original, _encoded(decoded), path, errors)


def validate_dashboard(doc: dict[str, Any]) -> list[str]:
    """Return the schema errors of dashboard JSON ``doc`` (an empty list when it is valid)."""
    errors: list[str] = []
    panels = doc.get("panels", [])
    for i, panel in enumerate(panels):
        kind = panel.get("type", "")
        if kind != "row" and runtime.panelcfg_config(kind) is None:
            errors.append(f"$.panels[{i}].type: {kind!r} is not a core panel plugin of the schema")
    try:
        decoded = dashboard_model.Dashboard.from_json(doc)
    except (KeyError, TypeError, ValueError) as exc:
        return [*errors, f"$: does not decode: {exc!r}"]
    _round_trip(doc, decoded, "$", errors)
    _check_object(decoded, "$", errors)
    return errors
