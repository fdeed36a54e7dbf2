"""Turn one received span into the row Langfuse v4 writes to its events table.

Follows Langfuse's OtelIngestionProcessor (the direct "events" write path taken with
`x-langfuse-ingestion-version: 4`) and its IngestionService: which attribute feeds which column,
the fallbacks between them, and the normalisations (environment names, usage totals, cost totals,
metadata flattened to dot paths). Each span is read on its own: as in v4, a trace attribute
(`session.id`, `user.id`, `langfuse.trace.name`...) lands only on the observations whose span
carries it. Mapped: the `langfuse.*` attributes, `session.id`, `user.id`, `gen_ai.request.*`,
`gen_ai.usage.*`, `gen_ai.operation.name`. Not mapped: framework adapters (Vercel AI SDK,
OpenInference, Genkit...). Usage and cost the span leaves out are inferred as Langfuse infers
them, from an approximate price table and tokenizer (prices.py).

Environment names follow Langfuse's PublicEnvironmentName (packages/shared/src/server/ingestion/
types.ts, applied by OtelIngestionProcessor.extractEnvironment through normalizeEnvironment):
lowercased, every leading `langfuse`/`langfuse-`/`langfuse_` stripped, cut to 40 characters,
and `default` unless what is left is made of [a-z0-9_-]. `langfuse.trace.input`/`output` feed
nothing on this path: a trace's input and output are its root observation's (traces.py).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from . import prices
from .otlp import plain_attributes

DEFAULT_ENVIRONMENT = "default"
OBSERVATION_TYPES = {
    "span": "SPAN",
    "generation": "GENERATION",
    "event": "EVENT",
    "embedding": "EMBEDDING",
    "agent": "AGENT",
    "tool": "TOOL",
    "chain": "CHAIN",
    "retriever": "RETRIEVER",
    "guardrail": "GUARDRAIL",
    "evaluator": "EVALUATOR",
}
GEN_AI_OPERATION_TYPES = {
    "chat": "GENERATION",
    "completion": "GENERATION",
    "text_completion": "GENERATION",
    "generate_content": "GENERATION",
    "generate": "GENERATION",
    "embeddings": "EMBEDDING",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
    "execute_tool": "TOOL",
}
MODEL_NAME_KEYS = (
    "langfuse.observation.model.name",
    "gen_ai.response.model",
    "ai.model.id",
    "gen_ai.request.model",
    "llm.response.model",
    "llm.model_name",
    "model",
)
# Any of these makes an otherwise untyped span a generation (Langfuse's model-based fallback).
MODEL_BASED_TYPE_KEYS = (
    "langfuse.observation.model.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "llm.model_name",
    "model",
)
LEVEL_ALIASES = {
    **dict.fromkeys(("DEBUG", "TRACE", "VERBOSE"), "DEBUG"),
    **dict.fromkeys(("DEFAULT", "INFO", "LOG", "NOTICE", "OK", "SUCCESS"), "DEFAULT"),
    **dict.fromkeys(("WARNING", "WARN"), "WARNING"),
    **dict.fromkeys(("ERROR", "FATAL", "CRITICAL"), "ERROR"),
}
USER_ID_KEYS = (
    "langfuse.user.id",
    "user.id",
    "langfuse.observation.metadata.langfuse_user_id",
    "langfuse.trace.metadata.langfuse_user_id",
    "ai.telemetry.metadata.userId",
)
SESSION_ID_KEYS = (
    "langfuse.session.id",
    "session.id",
    "gen_ai.conversation.id",
    "langfuse.observation.metadata.langfuse_session_id",
    "langfuse.trace.metadata.langfuse_session_id",
    "ai.telemetry.metadata.sessionId",
)
TAG_KEYS = (
    "langfuse.trace.tags",
    "langfuse.tags",
    "langfuse.observation.metadata.langfuse_tags",
    "langfuse.trace.metadata.langfuse_tags",
    "ai.telemetry.metadata.tags",
    "tag.tags",
)
# Attributes Langfuse reads as input/output (of any framework) and so keeps out of metadata.
INPUT_OUTPUT_KEYS = frozenset(
    (
        "langfuse.trace.input",
        "langfuse.trace.output",
        "langfuse.observation.input",
        "langfuse.observation.output",
        "ai.prompt.messages",
        "ai.prompt",
        "ai.toolCall.args",
        "ai.response.text",
        "ai.result.text",
        "ai.toolCall.result",
        "ai.response.object",
        "ai.result.object",
        "ai.response.toolCalls",
        "ai.result.toolCalls",
        "gcp.vertex.agent.llm_request",
        "gcp.vertex.agent.llm_response",
        "gcp.vertex.agent.tool_call_args",
        "gcp.vertex.agent.tool_response",
        "prompt",
        "all_messages_events",
        "events",
        "lk.input_text",
        "lk.user_transcript",
        "lk.chat_ctx",
        "lk.user_input",
        "lk.function_tool.output",
        "lk.response.text",
        "mlflow.spanInputs",
        "mlflow.spanOutputs",
        "traceloop.entity.input",
        "traceloop.entity.output",
        "input.value",
        "output.value",
        "final_result",
        "pydantic_ai.all_messages",
        "gen_ai.system_instructions",
        "input",
        "output",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "genkit:input",
        "genkit:output",
        "flue.turn.input",
        "flue.turn.output",
        "flue.tool.arguments",
        "flue.tool.result",
        "flue.task.prompt",
        "flue.task.result",
        "flue.operation.result",
        "flue.workflow.payload",
        "flue.workflow.result",
    )
)
NON_METADATA_PREFIXES = (
    "gen_ai.prompt",
    "gen_ai.completion",
    "llm.input_messages",
    "llm.output_messages",
    "langfuse.trace.metadata",
    "langfuse.observation.metadata",
    "ai.telemetry.metadata",
)
# The AI SDK's own trace fields, which Langfuse keeps out of metadata.
AI_SDK_TRACE_FIELDS = frozenset(
    f"ai.telemetry.metadata.{name}" for name in ("userId", "sessionId", "tags", "langfusePrompt")
)
STATUS_CODE_ERROR = 2
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_row(received: dict[str, Any], *, project_id: str, received_at: float) -> dict[str, Any]:
    """The events-table row for one span document from `otlp.received_spans`."""
    span = received["span"]
    scope = received["scope"]
    attributes = plain_attributes(span.get("attributes"))
    resource_attributes = plain_attributes(received["resource"].get("attributes"))
    start_ms = _nanos_to_ms(span.get("startTimeUnixNano"))
    end_ms = _nanos_to_ms(span.get("endTimeUnixNano"))
    received_ms = int(received_at * 1000)
    start_ms, end_ms = start_ms or end_ms or received_ms, end_ms or start_ms or received_ms
    observation_type = _observation_type(attributes)
    is_generation = observation_type == "GENERATION"
    metadata_names, metadata_values = _flatten(_metadata(attributes, resource_attributes, scope))
    status = span.get("status") or {}
    return {
        "id": span["spanId"],
        "trace_id": span["traceId"],
        "project_id": project_id,
        "parent_span_id": span.get("parentSpanId") or "",
        "start_time": start_ms,
        "end_time": end_ms,
        "completion_start_time": _completion_start_ms(attributes),
        "created_at": received_ms,
        "name": span.get("name") or "",
        "type": observation_type,
        "environment": _environment(attributes, resource_attributes),
        "version": _text(attributes.get("langfuse.version"))
        or _text(resource_attributes.get("service.version")),
        "release": _text(attributes.get("langfuse.release"))
        or _text(resource_attributes.get("langfuse.release")),
        "trace_name": _text(attributes.get("langfuse.trace.name")),
        "user_id": _first_present(attributes, USER_ID_KEYS),
        "session_id": _first_present(attributes, SESSION_ID_KEYS),
        "tags": _tags(attributes),
        "public": attributes.get("langfuse.trace.public", attributes.get("langfuse.public"))
        in (True, "true"),
        "is_app_root": attributes.get("langfuse.internal.is_app_root") in (True, "true"),
        "level": _level(attributes.get("langfuse.observation.level"), status),
        "status_message": _text(attributes.get("langfuse.observation.status_message"))
        or _text(status.get("message")),
        "prompt_name": _text(attributes.get("langfuse.observation.prompt.name"))
        if is_generation
        else "",
        "prompt_version": _int_or_none(attributes.get("langfuse.observation.prompt.version"))
        if is_generation
        else None,
        "provided_model_name": _first_present(attributes, MODEL_NAME_KEYS),
        "model_parameters": json.dumps(_model_parameters(attributes)),
        **_usage_and_cost(attributes),
        "input": _text(attributes.get("langfuse.observation.input")),
        "output": _text(attributes.get("langfuse.observation.output")),
        "metadata_names": metadata_names,
        "metadata_values": metadata_values,
    }


def _nanos_to_ms(value: Any) -> int | None:
    nanos = _int_or_none(value)
    return nanos // 1_000_000 if nanos else None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    """A String column: absent values are stored as ''."""
    if value is None:
        return ""
    return value if isinstance(value, str) else _js_stringify(value)


def _js_stringify(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _first_present(attributes: dict[str, Any], keys: tuple[str, ...]) -> str:
    return next((_text(attributes[key]) for key in keys if attributes.get(key)), "")


def _level(value: Any, status: dict[str, Any]) -> str:
    """The level attribute (aliases such as WARN or FATAL accepted), else from the span status."""
    if isinstance(value, str) and value.strip().upper() in LEVEL_ALIASES:
        return LEVEL_ALIASES[value.strip().upper()]
    return "ERROR" if status.get("code") == STATUS_CODE_ERROR else "DEFAULT"


def _observation_type(attributes: dict[str, Any]) -> str:
    by_langfuse = OBSERVATION_TYPES.get(str(attributes.get("langfuse.observation.type")))
    by_operation = GEN_AI_OPERATION_TYPES.get(str(attributes.get("gen_ai.operation.name")))
    by_model = "GENERATION" if _first_present(attributes, MODEL_BASED_TYPE_KEYS) else None
    return by_langfuse or by_operation or by_model or "SPAN"


def _environment(attributes: dict[str, Any], resource_attributes: dict[str, Any]) -> str:
    for key in ("langfuse.environment", "deployment.environment.name", "deployment.environment"):
        for source in (attributes, resource_attributes):
            if source.get(key):
                return _normalised_environment(source[key])
    return DEFAULT_ENVIRONMENT


def _normalised_environment(value: Any) -> str:
    if not isinstance(value, str):
        return DEFAULT_ENVIRONMENT
    name = re.sub(r"^(?:langfuse[-_]?)+", "", value.lower())[:40]
    return name if re.fullmatch(r"[a-z0-9\-_]+", name) else DEFAULT_ENVIRONMENT


def _tags(attributes: dict[str, Any]) -> list[str]:
    value = next((attributes[key] for key in TAG_KEYS if attributes.get(key)), None)
    if isinstance(value, list):
        return [item if isinstance(item, str) else _js_stringify(item) for item in value]
    if not isinstance(value, str):
        return []
    if value.strip().startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return [str(item) for item in parsed]
    return [tag.strip() for tag in value.split(",")] if "," in value else [value]


def _completion_start_ms(attributes: dict[str, Any]) -> int | None:
    """An ISO timestamp, or (older SDKs) the JSON text of one."""
    value = attributes.get("langfuse.observation.completion_start_time")
    for candidate in (value, _json_or_none(value)):
        if isinstance(candidate, str):
            try:
                moment = datetime.fromisoformat(candidate)
            except ValueError:
                continue
            return (moment.astimezone(UTC) - EPOCH) // timedelta(milliseconds=1)
    return None


def _json_or_none(value: Any) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return None


def _json_object_attribute(attributes: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A JSON-object attribute: the object; {} when it is not one; None when absent or bad."""
    raw = attributes.get(key)
    if not raw:
        return None
    if not isinstance(raw, str):
        return {}
    parsed = _json_or_none(raw)
    if parsed is None and raw.strip() != "null":
        return None
    return parsed if isinstance(parsed, dict) else {}


def _model_parameters(attributes: dict[str, Any]) -> dict[str, Any]:
    explicit = _json_object_attribute(attributes, "langfuse.observation.model.parameters")
    if explicit is not None:
        return _sanitised_parameters(explicit)
    prefix = "gen_ai.request."
    return _sanitised_parameters(
        {
            key.removeprefix(prefix): value
            for key, value in attributes.items()
            if key.startswith(prefix) and key != "gen_ai.request.model"
        }
    )


def _sanitised_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """Model parameters are strings or numbers; anything else is stored as its JSON text."""
    return {
        key: value
        if isinstance(value, str | int | float) and not isinstance(value, bool)
        else _js_stringify(value)
        for key, value in parameters.items()
    }


def _usage_details(attributes: dict[str, Any]) -> dict[str, int]:
    provided = _json_object_attribute(attributes, "langfuse.observation.usage_details")
    if provided is None:
        provided = _gen_ai_usage(attributes)
    return _openai_usage(provided) or _raw_usage(provided)


def _raw_usage(usage: dict[str, Any]) -> dict[str, int]:
    """Langfuse's RawUsageDetails: non-negative integers, or strings that start with one."""
    result = {}
    for key, value in usage.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float) and float(value).is_integer():
            count: int | None = int(value)
        else:
            count = js_parse_int(value) if isinstance(value, str) else None
        if count is not None and count >= 0:
            result[key] = count
    return result


def js_parse_int(text: str) -> int | None:
    """JavaScript's parseInt(text, 10): the leading integer, or None where it gives NaN."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else None


def _openai_usage(usage: dict[str, Any]) -> dict[str, int] | None:
    """An OpenAI Completions or Responses usage object, split into Langfuse's usage keys."""
    for input_key, output_key in (
        ("prompt_tokens", "completion_tokens"),
        ("input_tokens", "output_tokens"),
    ):
        counts = (input_key, output_key, "total_tokens")
        details = (f"{input_key}_details", f"{output_key}_details")
        if not set(counts) <= usage.keys() or not usage.keys() <= {*counts, *details}:
            continue
        if not all(_is_count(usage[key]) for key in counts):
            return None
        result = {
            "input": usage[input_key],
            "output": usage[output_key],
            "total": usage["total_tokens"],
        }
        for side, details_key in zip(("input", "output"), details, strict=True):
            for name, count in (usage.get(details_key) or {}).items():
                if count is not None:
                    result[f"{side}_{name}"] = count
                    result[side] = max(result[side] - count, 0)
        return result
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _gen_ai_usage(attributes: dict[str, Any]) -> dict[str, Any]:
    """The OTel GenAI `gen_ai.usage.*` counts, with cached and reasoning tokens split out."""
    raw = {}
    for key, value in attributes.items():
        if key.startswith("gen_ai.usage.") and key != "gen_ai.usage.cost":
            number = _float_or_none(value)
            if number is not None:
                raw[key.removeprefix("gen_ai.usage.")] = number
    if not raw:
        return {}
    aliases = {
        "input": ("prompt_tokens", "input_tokens", "prompt"),
        "output": ("completion_tokens", "output_tokens", "completion"),
        "total": ("total_tokens", "total"),
        "input_cached_tokens": ("cache_read.input_tokens", "cache_read_input_tokens"),
        "input_cache_creation": ("cache_creation.input_tokens", "cache_creation_input_tokens"),
        "output_reasoning_tokens": ("reasoning.output_tokens",),
    }
    known = {alias for names in aliases.values() for alias in names}
    usage = {key: value for key, value in raw.items() if key not in known}
    for name, names in aliases.items():
        found = next((raw[alias] for alias in names if alias in raw), None)
        if found is not None:
            usage[name] = found
    cached = usage.get("input_cached_tokens", 0) + usage.get("input_cache_creation", 0)
    if "input" in usage:
        usage["input"] = max(usage["input"] - cached, 0)
    if "output" in usage:
        usage["output"] = max(usage["output"] - usage.get("output_reasoning_tokens", 0), 0)
    return usage


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _cost_details(attributes: dict[str, Any]) -> dict[str, float]:
    provided = _json_object_attribute(attributes, "langfuse.observation.cost_details")
    if provided is None:
        cost = attributes.get("gen_ai.usage.cost")
        provided = {} if cost in (None, "") else {"total": cost}
    numbers = {key: _float_or_none(value) for key, value in provided.items()}
    return {key: round(value, 12) for key, value in numbers.items() if value is not None}


def _stored_text(value: Any) -> str | None:
    """Input or output as the worker stores (and tokenizes) it; None when absent."""
    return None if value is None else _text(value)


def _usage_and_cost(attributes: dict[str, Any]) -> dict[str, Any]:
    """Provided usage and cost, completed by Langfuse's own inference (see prices): a span
    with a known model name but neither usage nor cost is tokenized and priced, whatever its
    level (the events write path does not pass the level on)."""
    usage, cost = prices.enrich(
        model_name=_first_present(attributes, MODEL_NAME_KEYS),
        provided_usage=_usage_details(attributes),
        provided_cost=_cost_details(attributes),
        input_text=_stored_text(attributes.get("langfuse.observation.input")),
        output_text=_stored_text(attributes.get("langfuse.observation.output")),
    )
    return {
        "usage_details": usage,
        "cost_details": {key: round(value, 12) for key, value in cost.items()},
    }


def _metadata(
    attributes: dict[str, Any], resource_attributes: dict[str, Any], scope: dict[str, Any]
) -> dict[str, Any]:
    scope_attributes = plain_attributes(scope.get("attributes"))
    from_langfuse_sdk = str(scope.get("name", "")).startswith("langfuse-sdk")
    return {
        **({} if from_langfuse_sdk else {"attributes": _leftover_attributes(attributes)}),
        "resourceAttributes": resource_attributes,
        "scope": {**scope, "attributes": scope_attributes},
        **_prefixed_metadata(attributes, "langfuse.observation.metadata"),
        **_prefixed_metadata(attributes, "langfuse.trace.metadata"),
    }


def _leftover_attributes(attributes: dict[str, Any]) -> dict[str, str]:
    return {
        key: _text(value)
        for key, value in attributes.items()
        if key not in INPUT_OUTPUT_KEYS and not key.startswith(NON_METADATA_PREFIXES)
    }


def _prefixed_metadata(attributes: dict[str, Any], prefix: str) -> dict[str, Any]:
    """`prefix` as one JSON object and `prefix.<key>` attributes, as Langfuse merges them."""
    top_level = attributes.get(prefix) or attributes.get("langfuse.metadata")
    merged = _json_or_none(top_level) if isinstance(top_level, str) else top_level
    metadata = dict(merged) if isinstance(merged, dict) else {}
    for key, value in attributes.items():
        for source in (prefix, "langfuse.metadata", "ai.telemetry.metadata"):
            name = key.removeprefix(f"{source}.")
            if name not in (key, "") and key not in AI_SDK_TRACE_FIELDS:
                metadata[name] = value
    return metadata


def _flatten(value: dict[str, Any], prefix: str = "") -> tuple[list[str], list[str]]:
    """Nested objects become dot paths; leaves are kept as strings (JSON text if not strings)."""
    names: list[str] = []
    values: list[str] = []
    for key, item in value.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(item, dict):
            nested_names, nested_values = _flatten(item, path)
            names += nested_names
            values += nested_values
        else:
            names.append(path)
            values.append("" if item is None else _text(item))
    return names, values
