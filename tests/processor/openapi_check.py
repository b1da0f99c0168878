"""A structural validator for the OpenAPI 3.0 schema subset that openapi.yaml uses.

Supports ``$ref`` (local), ``allOf``, ``type`` (object, array, string, number, integer,
boolean), ``nullable``, ``enum``, ``required``, ``properties``, ``items`` and
``additionalProperties``; anything else in a schema is rejected so the document cannot drift
into constructs this check silently ignores.
"""

from __future__ import annotations

from typing import Any

_KNOWN = {
    "$ref",
    "allOf",
    "type",
    "nullable",
    "enum",
    "required",
    "properties",
    "items",
    "additionalProperties",
    "description",
    "default",
}
_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Return ``node`` with a local ``$ref`` followed."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def validate(value: Any, schema: dict[str, Any], doc: dict[str, Any], path: str = "$") -> None:
    """Raise AssertionError naming the path where ``value`` breaks ``schema``."""
    schema = resolve(doc, schema)
    unknown = set(schema) - _KNOWN
    assert not unknown, f"{path}: schema uses unsupported keywords {unknown}"
    for sub in schema.get("allOf", ()):
        validate(value, sub, doc, path)
    if value is None:
        assert schema.get("nullable", False) or "type" not in schema, f"{path}: null"
        return
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    kind = schema.get("type")
    if kind is not None:
        ok = isinstance(value, _TYPES[kind])
        if kind in ("integer", "number") and isinstance(value, bool):
            ok = False
        assert ok, f"{path}: expected {kind}, got {type(value).__name__}"
    if isinstance(value, dict):
        for req in schema.get("required", ()):
            assert req in value, f"{path}: missing required {req!r}"
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if k in props:
                validate(v, props[k], doc, f"{path}.{k}")
            elif isinstance(extra, dict):
                validate(v, extra, doc, f"{path}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            validate(v, schema["items"], doc, f"{path}[{i}]")
