"""Known traffic for the stand-in: requests turned into spans by the callback's own mapping.

A report test (or the usage-report bench) describes requests — user, team, client, model
group, attempts with their usage and cost — and gets the span documents the callback would
have exported for them, so the stand-in serves exactly what Langfuse would hold. `load` writes
them straight into a Store: a month of traffic is loaded in seconds, not exported span by span.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from callbacks import mapping
from callbacks.extract import Attempt, AttemptError, Cost, Request, Usage
from callbacks.otlp import SCOPE_NAME, SCOPE_VERSION, SERVICE_NAME, encode_attributes

from .store import ExportRequest, Store

ENVIRONMENT = "production"
THROTTLED = AttemptError(
    kind="RateLimitError", status="429", provider="bedrock", message="throttled"
)


@dataclass(frozen=True)
class Try:
    """One upstream attempt: a success with its usage and cost, or a throttled failure."""

    model_group: str
    deployment: str
    usage: Usage | None = None
    cost: Cost | None = None
    fallback: int = 0
    retry: int = 0
    seconds: float = 2.0
    ttft: float | None = 0.5
    failed: bool = False


@dataclass(frozen=True)
class Call:
    """One proxied request: who sent it, from which client, and its attempts in order."""

    call_id: str
    start: float
    user: str
    team: str | None
    user_agent: str
    group: str
    tries: Sequence[Try] = field(default_factory=tuple)
    session: str | None = None


def usage(input: int, output: int, cache_read: int = 0, cache_write: int = 0) -> Usage:
    total = input + output + cache_read + cache_write
    return Usage(input, output, cache_read, cache_write, 0, total)


def cost(input: float, output: float, cache_read: float = 0.0, cache_write: float = 0.0) -> Cost:
    total = input + output + cache_read + cache_write
    return Cost(input, output, cache_read, cache_write, 0.0, total)


def span_documents(call: Call) -> list[dict[str, Any]]:
    """The root span and one generation per attempt, as the stand-in's store keeps them."""
    request = Request(
        call_id=call.call_id,
        received_at=call.start,
        requested_group=call.group,
        user_agent=call.user_agent,
        user_id=call.user,
        key_alias=f"key-{call.user}",
        team=call.team,
        explicit_session=call.session,
    )
    fell_back = any(attempt.fallback for attempt in call.tries)
    fields = mapping.trace_fields(
        request, session_id=call.session, environment=ENVIRONMENT, fallback=fell_back
    )
    spans = []
    start = call.start
    for attempt in call.tries:
        end = start + attempt.seconds
        spans.append(
            mapping.generation_span(
                Attempt(
                    request=request,
                    model_group=attempt.model_group,
                    deployment=attempt.deployment,
                    deployment_id=attempt.deployment,
                    retry=attempt.retry,
                    fallback=attempt.fallback,
                    start=start,
                    end=end,
                    completion_start=None
                    if attempt.failed or attempt.ttft is None
                    else start + attempt.ttft,
                    usage=attempt.usage,
                    cost=attempt.cost,
                    error=THROTTLED if attempt.failed else None,
                ),
                fields,
                input_messages=None,
                output=None,
                status_message="throttled" if attempt.failed else None,
                metadata={},
            )
        )
        start = end
    last_failed = bool(call.tries) and call.tries[-1].failed
    spans.append(
        mapping.root_span(
            fields,
            start=call.start,
            end=start,
            input_message=None,
            output=None,
            error=THROTTLED if last_failed else None,
            status_message="throttled" if last_failed else None,
        )
    )
    resource = {"attributes": encode_attributes({"service.name": SERVICE_NAME})}
    scope = {"name": SCOPE_NAME, "version": SCOPE_VERSION}
    return [{"resource": resource, "scope": scope, "span": span} for span in spans]


def load(store: Store, calls: Iterable[Call], *, batch: int = 5000) -> int:
    """Write the calls' spans into the store as accepted exports; the number of spans."""
    written = 0
    documents: list[dict[str, Any]] = []
    for call in calls:
        documents += span_documents(call)
        if len(documents) >= batch:
            written += record(store, documents)
            documents = []
    return written + (record(store, documents) if documents else 0)


def record(store: Store, documents: list[dict[str, Any]]) -> int:
    """Keep span documents as one accepted export; their number."""
    export = ExportRequest(
        received_at=time.time() - 3600,  # readable whatever the stand-in's delay
        content_type="application/json",
        content_encoding=None,
        size=0,
        ingestion_version="4",
    )
    store.record(export, 200, documents)
    return len(documents)
