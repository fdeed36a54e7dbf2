"""Requests and attempts -> OTLP spans carrying the attributes Langfuse v4 maps.

One trace per proxied request, with a root span named `<client> / <model group>` and one
generation per upstream attempt below it, so retries and fallbacks show as siblings. Langfuse
v4 stores trace fields (name, session, user, tags, environment) per observation, from the
span that carries them, so every span carries them all.

IDs are derived, never random: the trace id from LiteLLM's per-request call id, span ids from
the call id and the attempt. The same event therefore always maps to the same span, which the
in-doubt check in worker.py relies on.

Usage and cost keys follow Langfuse's conventions: `input` is the uncached input only, the
cached parts are `cache_read_input_tokens` and `cache_creation_input_tokens` (their names
contain "input", so Langfuse adds them to input), reasoning is `output_reasoning_tokens`
(taken out of `output`), and `total` is given explicitly.

Every generation states its usage and cost, zeros included: Langfuse tokenizes and prices a
generation that arrives without either, whatever its level (see `billed`).

A trace's tags, in Langfuse v4, are those of its latest-written span that has tags, not their
union, and spans are written in no guaranteed order. So a span carries tags only when they are
the trace's final set (see `trace_fields`); a span that cannot know them yet carries none.
The trace's input and output are its root observation's: `langfuse.trace.input`/`output` are
ignored on the v4 ingestion path and are not sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .extract import Attempt, AttemptError, Cost, Request, Usage
from .jsontext import dumps
from .otlp import attribute_map, encode_attributes, span

MAX_FIELD_CHARS = 1_000_000
SHRUNK_FIELD_CHARS = 64_000
BODY_ATTRIBUTES = ("langfuse.observation.input", "langfuse.observation.output")
SPOOL_FULL_MARKER = "[not logged: the callback's spool was full]"
UNKNOWN_CLIENT = "unknown"
SUBAGENT_TAG = "subagent"  # requests of a Claude Code subagent (extract.AGENT_HEADER)
REFUSED_TAG = "refused"  # requests the key's limits refused (limits.Refused)

# User-Agent product -> client name, for the SDKs whose first token is not a good name.
_KNOWN_CLIENTS = (
    (re.compile(r"^openai/python", re.I), "openai-python"),
    (re.compile(r"^openai/js", re.I), "openai-node"),
    (re.compile(r"^anthropic/python", re.I), "anthropic-python"),
    (re.compile(r"^anthropic/js", re.I), "anthropic-node"),
    (re.compile(r"^cline\b", re.I), "cline"),
    (re.compile(r"^claude-cli\b", re.I), "claude-cli"),
    (re.compile(r"^codex", re.I), "codex"),
)


def client_name(user_agent: str) -> str:
    """A short client name from the User-Agent: cline, claude-cli, openai-python, curl..."""
    agent = user_agent.strip()
    for pattern, name in _KNOWN_CLIENTS:
        if pattern.search(agent):
            return name
    product = agent.split(" ", 1)[0].split("/", 1)[0].lower()
    return re.sub(r"[^a-z0-9._-]", "", product)[:40] or UNKNOWN_CLIENT


def trace_id_for(call_id: str) -> str:
    """32 hex digits: the call id itself when it is a UUID, else a digest of it."""
    try:
        return uuid.UUID(call_id).hex
    except ValueError:
        return hashlib.sha256(call_id.encode()).hexdigest()[:32]


def _span_id(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


def root_span_id(call_id: str) -> str:
    return _span_id("root", call_id)


def generation_span_id(call_id: str, attempt_key: tuple[str, int, int]) -> str:
    return _span_id("attempt", call_id, *attempt_key)


@dataclass(frozen=True)
class TraceFields:
    """The trace-level attributes every span of one request carries."""

    trace_id: str
    root_span_id: str
    name: str
    client: str
    session_id: str | None
    user_id: str | None
    environment: str
    tags: tuple[str, ...]
    metadata: Mapping[str, Any]

    def attributes(self) -> dict[str, Any]:
        return {
            "langfuse.trace.name": self.name,
            "session.id": self.session_id,
            "user.id": self.user_id,
            "langfuse.trace.tags": list(self.tags) or None,
            "langfuse.environment": self.environment,
            **{f"langfuse.trace.metadata.{k}": v for k, v in self.metadata.items()},
        }


def trace_fields(
    request: Request,
    *,
    session_id: str | None,
    environment: str,
    fallback: bool,
    tags_final: bool = True,
    refused: bool = False,
) -> TraceFields:
    """The request's trace fields; tags only when `tags_final` (no fallback can still come:
    the request ended, or already fell back), else none, so that no span can leave the trace
    with an incomplete tag set, whichever span Langfuse writes last."""
    client = request.client or client_name(request.user_agent)
    group = request.requested_group or "unknown-model"
    tags = [client, group, environment] + (["fallback"] if fallback else [])
    tags += [SUBAGENT_TAG] if request.agent_id else []
    tags += [REFUSED_TAG] if refused else []
    tags = tags if tags_final else []
    return TraceFields(
        trace_id=trace_id_for(request.call_id),
        root_span_id=root_span_id(request.call_id),
        name=f"{client} / {group}",
        client=client,
        session_id=session_id,
        user_id=request.user_id,
        environment=environment,
        tags=tuple(dict.fromkeys(tags)),
        metadata={
            "user_agent": request.user_agent or None,
            "key_alias": request.key_alias,
            "team": request.team,
            "litellm_call_id": request.call_id,
            "agent_id": request.agent_id,
            "parent_agent_id": request.parent_agent_id,
        },
    )


def generation_span(
    attempt: Attempt,
    fields: TraceFields,
    *,
    input_messages: Any,
    output: Any,
    status_message: str | None,
    metadata: Mapping[str, Any],
) -> dict[str, Any]:
    """The generation for one attempt; bodies are passed in already chosen and redacted."""
    if attempt.fallback:
        name = f"{attempt.model_group} (fallback {attempt.fallback})"
    else:
        name = attempt.model_group or model_name(attempt.deployment)
    if attempt.retry:
        name += f" (retry {attempt.retry})"
    usage, cost = billed(attempt)
    attributes: dict[str, Any] = {
        **fields.attributes(),
        "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": model_name(attempt.deployment),
        "langfuse.observation.model.parameters": attempt.parameters or None,
        "langfuse.observation.input": _field(input_messages),
        "langfuse.observation.output": _field(output),
        "langfuse.observation.usage_details": usage_details(usage),
        "langfuse.observation.cost_details": cost_details(cost),
        "langfuse.observation.completion_start_time": _iso(attempt.completion_start),
        "langfuse.observation.level": "ERROR" if attempt.error else None,
        "langfuse.observation.status_message": status_message,
        **_observation_metadata(
            {
                "model_group": attempt.model_group,
                "deployment": attempt.deployment,
                "deployment_id": attempt.deployment_id,
                "retry": attempt.retry,
                "fallback_depth": attempt.fallback,
                "cache_hit": attempt.cache_hit or None,
                "error_type": attempt.error.kind if attempt.error else None,
                "error_status": attempt.error.status if attempt.error else None,
                **metadata,
            }
        ),
    }
    return span(
        trace_id=fields.trace_id,
        span_id=generation_span_id(attempt.request.call_id, attempt.key),
        parent_span_id=fields.root_span_id,
        name=name,
        start_ns=_nanos(attempt.start),
        end_ns=_nanos(attempt.end),
        attributes=attributes,
        error=status_message if attempt.error else None,
    )


def root_span(
    fields: TraceFields,
    *,
    start: float,
    end: float,
    input_message: Any,
    output: Any,
    error: AttemptError | None,
    status_message: str | None,
) -> dict[str, Any]:
    """The request as a whole: its newest message, its final answer or its final error."""
    attributes: dict[str, Any] = {
        **fields.attributes(),
        "langfuse.observation.type": "span",
        "langfuse.observation.input": _field(input_message),
        "langfuse.observation.output": _field(output),
        "langfuse.observation.level": _level(error),
        "langfuse.observation.status_message": status_message,
        **_observation_metadata(
            {
                "error_type": error.kind if error else None,
                "error_status": error.status if error else None,
                "refused": (error.refused or None) if error else None,
            }
        ),
    }
    return span(
        trace_id=fields.trace_id,
        span_id=fields.root_span_id,
        parent_span_id=None,
        name=fields.name,
        start_ns=_nanos(start),
        end_ns=_nanos(end),
        attributes=attributes,
        error=status_message if error else None,
    )


def _level(error: AttemptError | None) -> str | None:
    """A refusal by the key's limits is the proxy doing its job: WARNING, not ERROR."""
    if error is None:
        return None
    return "WARNING" if error.refused else "ERROR"


def model_name(deployment: str) -> str:
    """`bedrock/converse/us.anthropic.claude-sonnet-4-6` -> `us.anthropic.claude-sonnet-4-6`."""
    return deployment.rsplit("/", 1)[-1]


# Langfuse's usage and cost keys, and the Usage/Cost field each comes from; the first two
# and the total are always sent, the others only when non-zero.
DETAIL_FIELDS = (
    ("input", "input"),
    ("output", "output"),
    ("cache_read_input_tokens", "cache_read"),
    ("cache_creation_input_tokens", "cache_write"),
    ("output_reasoning_tokens", "reasoning"),
    ("total", "total"),
)
ALWAYS_SENT = frozenset({"input", "output", "total"})


NOTHING_USED = Usage(input=0, output=0, cache_read=0, cache_write=0, reasoning=0, total=0)
NOTHING_BILLED = Cost(
    input=0.0, output=0.0, cache_read=0.0, cache_write=0.0, reasoning=0.0, total=0.0
)


def billed(attempt: Attempt) -> tuple[Usage | None, Cost | None]:
    """What Bedrock billed for the attempt, as far as LiteLLM knows.

    A success: LiteLLM's usage and cost. A failure Bedrock answered with an error (throttled,
    unavailable, refused: nothing generated) is not billed: explicit zeros, else Langfuse would
    tokenize and price it. A stream that broke after output began was billed for the tokens
    produced: LiteLLM recovers that partial usage and its cost, which are sent as they are
    (a cost LiteLLM could not compute is left to Langfuse to price from the usage). An answer
    from LiteLLM's cache never reached Bedrock: its usage, at zero cost.
    """
    if attempt.cache_hit:
        return attempt.usage or NOTHING_USED, NOTHING_BILLED
    if attempt.error is None:
        return attempt.usage, attempt.cost
    if attempt.usage is not None and attempt.usage.total > 0:
        return attempt.usage, attempt.cost
    return NOTHING_USED, NOTHING_BILLED


def _details(source: Usage | Cost) -> dict[str, Any]:
    details = {key: getattr(source, field) for key, field in DETAIL_FIELDS}
    return {k: v for k, v in details.items() if v or k in ALWAYS_SENT}


def usage_details(usage: Usage | None) -> dict[str, int] | None:
    return None if usage is None else _details(usage)


def cost_details(cost: Cost | None) -> dict[str, float] | None:
    return None if cost is None else _details(cost)


# -- size control ---------------------------------------------------------------------------


def truncate(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    marker = f"...[truncated by the llmops callback: {limit} of {len(text)} characters kept]"
    return text[:limit] + marker


def _field(value: Any) -> str | None:
    if value is None:
        return None
    return truncate(value if isinstance(value, str) else dumps(value), MAX_FIELD_CHARS)


def without_bodies(span_json: Mapping[str, Any]) -> dict[str, Any]:
    """The span with input and output replaced by a marker (the spool-full policy)."""
    return _with_attributes(
        span_json,
        {key: SPOOL_FULL_MARKER for key in BODY_ATTRIBUTES if key in attribute_map(span_json)},
    )


def smaller(span_json: Mapping[str, Any]) -> dict[str, Any] | None:
    """A smaller version of a span Langfuse found too large, or None if nothing is left to cut.

    First every long text is cut to SHRUNK_FIELD_CHARS; then input and output go.
    """
    attributes = attribute_map(span_json)
    long_texts = {
        key: truncate(value, SHRUNK_FIELD_CHARS)
        for key, value in attributes.items()
        if isinstance(value, str) and len(value) > SHRUNK_FIELD_CHARS * 1.1
    }
    if long_texts:
        return _with_attributes(span_json, long_texts)
    if any(attributes.get(key) not in (None, SPOOL_FULL_MARKER) for key in BODY_ATTRIBUTES):
        return without_bodies(span_json)
    return None


def _with_attributes(span_json: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    attributes = {**attribute_map(span_json), **changes}
    return {**span_json, "attributes": encode_attributes(attributes)}


# -- small helpers --------------------------------------------------------------------------


def _observation_metadata(values: Mapping[str, Any]) -> dict[str, Any]:
    return {f"langfuse.observation.metadata.{k}": v for k, v in values.items() if v is not None}


def _nanos(seconds: float) -> int:
    return round(seconds * 1_000_000) * 1000


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()
