"""OTLP/JSON encoding: spans as the OTLP JSON mapping spells them, and the export envelope.

IDs are lowercase hex (OTLP/JSON, not base64); times are nanoseconds as decimal strings
(proto3 JSON for 64-bit integers). Langfuse reads every `langfuse.*` value as a string,
so structured values are JSON-encoded into `stringValue`, as its own SDKs do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .jsontext import dumps

SCOPE_NAME = "llmops-kit.callbacks"
SCOPE_VERSION = "1"
SERVICE_NAME = "litellm-proxy"

SPAN_KIND_INTERNAL = 1
STATUS_ERROR = 2


def encode_value(value: Any) -> dict[str, Any]:
    """One attribute value: strings and booleans as such, lists of strings as arrays."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return {"arrayValue": {"values": [{"stringValue": item} for item in value]}}
    return {"stringValue": dumps(value)}


def encode_attributes(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Key/value pairs, leaving out None so that absent never reads as "null"."""
    return [
        {"key": key, "value": encode_value(value)}
        for key, value in attributes.items()
        if value is not None
    ]


def span(
    *,
    trace_id: str,
    span_id: str,
    parent_span_id: str | None,
    name: str,
    start_ns: int,
    end_ns: int,
    attributes: Mapping[str, Any],
    error: str | None = None,
) -> dict[str, Any]:
    """One span in OTLP/JSON form."""
    encoded: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": SPAN_KIND_INTERNAL,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(max(start_ns, end_ns)),
        "attributes": encode_attributes(attributes),
        "status": {"code": STATUS_ERROR, "message": error} if error is not None else {},
    }
    if parent_span_id:
        encoded["parentSpanId"] = parent_span_id
    return encoded


def export_request(spans: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """An ExportTraceServiceRequest holding `spans` under one resource and scope."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": encode_attributes({"service.name": SERVICE_NAME})},
                "scopeSpans": [
                    {
                        "scope": {"name": SCOPE_NAME, "version": SCOPE_VERSION},
                        "spans": list(spans),
                    }
                ],
            }
        ]
    }


def attribute_map(span_json: Mapping[str, Any]) -> dict[str, Any]:
    """Decode a span's attributes back into a plain mapping (for size work and tests)."""
    decoded: dict[str, Any] = {}
    for pair in span_json.get("attributes", ()):
        value = pair["value"]
        if "arrayValue" in value:
            decoded[pair["key"]] = [v.get("stringValue") for v in value["arrayValue"]["values"]]
        else:
            decoded[pair["key"]] = next(iter(value.values()), None)
    return decoded
