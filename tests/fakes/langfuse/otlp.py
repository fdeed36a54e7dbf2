"""Decode OTLP/HTTP trace export bodies the way Langfuse's `/api/public/otel/v1/traces` does.

Langfuse turns a protobuf body into the OTLP/JSON shape (ids as hex, int64 as decimal strings,
enums as numbers) and from then on treats both encodings alike; so does this module:
`decode_export` returns `resourceSpans` in OTLP/JSON form whatever the wire encoding was, and
`received_spans` flattens them into one self-contained document per span (its resource and scope
copied in), which is what the store keeps. The error texts are Langfuse's own.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import zlib
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


class OtlpRejected(Exception):
    """The export cannot be ingested; `message` is the `error` Langfuse answers with 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def decode_export(
    body: bytes, content_type: str | None, content_encoding: str | None
) -> list[dict[str, Any]]:
    """The export's `resourceSpans` in OTLP/JSON form, or OtlpRejected as Langfuse would."""
    if content_encoding and "gzip" in content_encoding:
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as exc:
            raise OtlpRejected("Failed to decompress request body") from exc
    kind = (content_type or "").lower()
    if PROTOBUF in kind:
        return _decode_protobuf(body)
    if JSON in kind:
        return _decode_json(body)
    raise OtlpRejected("Invalid content type")


def _decode_protobuf(body: bytes) -> list[dict[str, Any]]:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise OtlpRejected("Failed to parse OTel Protobuf Trace") from exc
    as_json = MessageToDict(request, use_integers_for_enums=True)
    resource_spans = as_json.get("resourceSpans", [])
    for resource_span in resource_spans:
        for scope_span in resource_span.get("scopeSpans", []):
            for span in scope_span.get("spans", []):
                for field in _ID_FIELDS:
                    if field in span:
                        span[field] = base64.b64decode(span[field]).hex()
    return resource_spans


def _decode_json(body: bytes) -> list[dict[str, Any]]:
    try:
        document = json.loads(body)
        resource_spans = document.get("resourceSpans")
    except (ValueError, AttributeError) as exc:
        raise OtlpRejected("Failed to parse OTel JSON Trace") from exc
    return resource_spans or []


def check_processable(resource_spans: list[dict[str, Any]]) -> None:
    """Reject the whole export when a span lacks usable ids, as Langfuse's endpoint does."""
    total = invalid = 0
    reasons: set[str] = set()
    scopes: set[str] = set()
    for resource_span in resource_spans:
        for scope_span in resource_span.get("scopeSpans") or []:
            for span in scope_span.get("spans") or []:
                total += 1
                span_reasons = {
                    f"{field}:{reason}"
                    for field in ("traceId", "spanId")
                    if (reason := _id_problem(span.get(field)))
                }
                if not isinstance(span.get("attributes", []), list):
                    span_reasons.add("attributes:not_an_array")
                if span_reasons:
                    invalid += 1
                    reasons |= span_reasons
                    scopes.add(str((scope_span.get("scope") or {}).get("name") or ""))
    if invalid:
        raise OtlpRejected(
            f"Invalid OTLP trace export: {invalid} of {total} span(s) cannot be processed "
            f"({', '.join(sorted(reasons))}). The entire export was rejected and no spans were "
            "ingested. Instrumentation scopes: "
            f"{', '.join(sorted(filter(None, scopes))) or 'unknown'}. This endpoint accepts "
            "OpenTelemetry traces only — if you are exporting OpenTelemetry logs, point your log "
            "exporter elsewhere."
        )


def _id_problem(value: Any) -> str | None:
    if value is None or value == "":
        return "absent"
    if not isinstance(value, str):
        return "not_an_id"
    return None


def received_spans(resource_spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One document per span: `{"resource": ..., "scope": ..., "span": ...}` in OTLP/JSON form."""
    return [
        {
            "resource": resource_span.get("resource") or {},
            "scope": scope_span.get("scope") or {},
            "span": span,
        }
        for resource_span in resource_spans
        for scope_span in resource_span.get("scopeSpans") or []
        for span in scope_span.get("spans") or []
    ]


def plain_attributes(attributes: list[dict[str, Any]] | None) -> dict[str, Any]:
    """OTLP `[{key, value}]` as a plain mapping; a repeated key keeps its last value."""
    return {item["key"]: plain_value(item.get("value") or {}) for item in attributes or []}


def plain_value(value: dict[str, Any]) -> Any:
    """An OTLP AnyValue as Langfuse reads it (convertValueToPlainJavascript)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "doubleValue" in value:
        double = value["doubleValue"]
        if isinstance(double, str):
            parsed = _float_or_none(double)
            return parsed if parsed is not None and math.isfinite(parsed) else double
        return double
    if "boolValue" in value:
        return value["boolValue"]
    if "values" in (value.get("arrayValue") or {}):
        return [plain_value(item) for item in value["arrayValue"]["values"]]
    if "intValue" in value:
        integer = _int_or_none(value["intValue"])
        if integer is not None:
            return integer
    return json.dumps(value, separators=(",", ":"))


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
