"""OTLP wire handling shared by both receivers: decode requests, encode responses.

Only this module and the receivers know the wire. Requests arrive as protobuf bytes (gRPC, or
HTTP ``application/x-protobuf``) or OTLP JSON (HTTP ``application/json``), possibly gzip-encoded.
OTLP JSON differs from the plain proto3 JSON mapping in one way that matters for decoding:
trace and span ids are hex strings, not base64 (OTLP specification, "JSON Protobuf Encoding"),
so they are rewritten before ``json_format.ParseDict``; field names may be lowerCamelCase (the
spec) or snake_case, and 64-bit integers strings or numbers, which ``json_format`` accepts.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from otelml.processor.inflight import Hold
from otelml.processor.receive import gunzip as gz

Signal = Literal["metrics", "traces", "logs"]
Encoding = Literal["protobuf", "json"]

REQUEST_TYPES: dict[str, type[Message]] = {
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
}


def _file_proto(module: Any) -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(f)
    return f


def _lazy_request(
    data: Any, service: Any, name: str, as_bytes: dict[str, frozenset[str]]
) -> type[Message]:
    """Return a copy of the request class ``name`` whose ``as_bytes`` fields stay serialized.

    ``as_bytes`` maps message names of ``data``'s file to field names redeclared as
    ``repeated bytes``. An embedded message and a packed repeated scalar are both
    length-delimited on the wire, so the copy decodes the same requests but leaves those fields
    as bytes: one ``KeyValue`` per attribute, or one packed
    array per chunk. Re-serializing the copy gives the same wire data (upb keeps what it
    cannot place, e.g. an unpacked repeated scalar, as unknown fields).
    """
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file_proto(common_pb2))
    pool.Add(_file_proto(resource_pb2))
    proto = _file_proto(data)
    for message in proto.message_type:
        fields = as_bytes.get(message.name, frozenset())
        for f in message.field:
            if f.name in fields:
                f.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
                f.ClearField("type_name")
                f.ClearField("options")  # packed: meaningless for bytes
    pool.Add(proto)
    pool.Add(_file_proto(service))
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


LazyMetricsRequest = _lazy_request(
    metrics_pb2,
    metrics_service_pb2,
    "opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest",
    {
        "NumberDataPoint": frozenset({"attributes"}),
        "HistogramDataPoint": frozenset({"attributes", "explicit_bounds", "bucket_counts"}),
        "ExponentialHistogramDataPoint": frozenset({"attributes"}),
        "SummaryDataPoint": frozenset({"attributes"}),
    },
)
"""ExportMetricsServiceRequest with data point attributes left as serialized KeyValue bytes,
and explicit histograms' ``explicit_bounds`` / ``bucket_counts`` as their packed bytes.

Ingestion keys caches by those bytes: a series sends the same attributes and bounds every
export, so parsing them in Python happens once per series, not once per point; bucket counts
of a whole request are read by numpy in one call.
"""

LazyTracesRequest = _lazy_request(
    trace_pb2,
    trace_service_pb2,
    "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
    {"Span": frozenset({"attributes"})},
)
"""ExportTraceServiceRequest with span attributes left as serialized KeyValue bytes."""


def lazy_metrics(request: Any) -> Any:
    """Return ``request`` as a :data:`LazyMetricsRequest` (re-encoding a regular one)."""
    if isinstance(request, LazyMetricsRequest):
        return request
    return LazyMetricsRequest.FromString(request.SerializeToString())


def lazy_traces(request: Any) -> Any:
    """Return ``request`` as a :data:`LazyTracesRequest` (re-encoding a regular one)."""
    if isinstance(request, LazyTracesRequest):
        return request
    return LazyTracesRequest.FromString(request.SerializeToString())


_ID_FIELDS = frozenset(
    {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}
)


class BadRequest(ValueError):
    """A request that cannot be decoded; the receivers answer 400 / INVALID_ARGUMENT."""


class TooLarge(ValueError):
    """A request over the size limit; the receivers answer 413 / RESOURCE_EXHAUSTED."""


def gunzip(body: bytes, limit: int, *, max_ratio: float = 0.0, hold: Hold | None = None) -> bytes:
    """Return the gzip-decoded body, chunk by chunk within ``limit``, ``max_ratio`` and ``hold``.

    Raises :class:`TooLarge` for a bomb, :class:`BadRequest` for a broken stream, and
    :class:`~otelml.processor.inflight.Overloaded` when the in-flight budget is spent.
    """
    try:
        return gz.gunzip(body, limit, max_ratio=max_ratio, hold=hold)
    except gz.BombError as exc:
        raise TooLarge(str(exc)) from exc
    except gz.BadGzip as exc:
        raise BadRequest(str(exc)) from exc


def _hex_ids_to_base64(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in _ID_FIELDS and isinstance(v, str):
                try:
                    v = base64.b64encode(bytes.fromhex(v)).decode("ascii")
                except ValueError as exc:
                    raise BadRequest(f"{k}: not a hex id: {v[:64]!r}") from exc
            else:
                v = _hex_ids_to_base64(v)
            out[k] = v
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(x) for x in node]
    return node


def decode_request(signal: Signal, body: bytes, encoding: Encoding) -> Message:
    """Return the decoded Export*ServiceRequest; raise :class:`BadRequest` when it is not one."""
    msg = REQUEST_TYPES[signal]()
    if encoding == "protobuf":
        if signal == "metrics":
            msg = LazyMetricsRequest()
        elif signal == "traces":
            msg = LazyTracesRequest()
        try:
            msg.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise BadRequest(f"invalid protobuf {type(msg).__name__}: {exc}") from exc
        return msg
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("invalid OTLP JSON: the top level must be an object")
    try:
        json_format.ParseDict(_hex_ids_to_base64(data), msg, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, RecursionError, ValueError, TypeError) as exc:
        raise BadRequest(f"invalid OTLP JSON {type(msg).__name__}: {exc}") from exc
    return msg


def item_count(signal: Signal, request: Any) -> int:
    """Return how many items (data points, spans, log records) a decoded request holds."""
    n = 0
    if signal == "metrics":
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    if kind is not None:
                        n += len(getattr(m, kind).data_points)
    elif signal == "traces":
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                n += len(ss.spans)
    else:
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                n += len(sl.log_records)
    return n


@dataclass(frozen=True, slots=True)
class PartialSuccess:
    """Items refused out of an otherwise accepted request, with the first reasons."""

    rejected: int = 0
    message: str = ""


def response(signal: Signal, partial: PartialSuccess) -> Message:
    """Return the Export*ServiceResponse, with ``partial_success`` set only when needed."""
    if signal == "metrics":
        r: Any = metrics_service_pb2.ExportMetricsServiceResponse()
        if partial.rejected or partial.message:
            r.partial_success.rejected_data_points = partial.rejected
            r.partial_success.error_message = partial.message
    elif signal == "traces":
        r = trace_service_pb2.ExportTraceServiceResponse()
        if partial.rejected or partial.message:
            r.partial_success.rejected_spans = partial.rejected
            r.partial_success.error_message = partial.message
    else:
        r = logs_service_pb2.ExportLogsServiceResponse()
        if partial.rejected or partial.message:
            r.partial_success.rejected_log_records = partial.rejected
            r.partial_success.error_message = partial.message
    return r  # type: ignore[no-any-return]


def encode(message: Message, encoding: Encoding) -> bytes:
    """Return ``message`` serialized as protobuf or OTLP JSON (lowerCamelCase)."""
    if encoding == "protobuf":
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode("utf-8")


def any_value(v: Any) -> Any:
    """Return a Python value for an OTLP ``AnyValue`` (None for bytes, maps and empty values)."""
    kind = v.WhichOneof("value")
    if kind is None or kind in ("bytes_value", "kvlist_value"):
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    return getattr(v, kind)


AttrReader = Callable[[Any], dict[str, Any]]


def attributes(kvs: Any) -> dict[str, Any]:
    """Return a dict of an OTLP attribute list (later keys win, as in the SDK)."""
    return {kv.key: any_value(kv.value) for kv in kvs}
