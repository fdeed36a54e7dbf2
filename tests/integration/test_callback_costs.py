"""Through the real proxy: what a fallback chain costs in Langfuse, and its tags, in any order.

The Langfuse stand-in prices a generation that arrives without usage or cost, as Langfuse
does (its worker tokenizes and prices it, errors included): the attempts Bedrock refused must
say they cost nothing, or the trace shows charges that never happened. A trace's tags are its
latest event's, so no span may carry an incomplete tag set, whatever order they arrive in.

Own proxy: the throttled route cools down inside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from callbacks.otlp import encode_attributes, export_request
from tests.fakes.bedrock.harness import running_bedrock
from tests.fakes.langfuse.harness import LangfuseStandIn, running_langfuse
from tests.integration.callback_stack import CallbackStack, open_callback_stack, trace_id

pytestmark = pytest.mark.integration

SONNET_4_6 = "us.anthropic.claude-sonnet-4-6"
SONNET_4_5 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
THROTTLED_ATTEMPTS = 3  # the first try and RateLimitErrorRetries: 2, then the fallback


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbackStack]:
    work_dir = tmp_path_factory.mktemp("callback-costs")
    with (
        running_bedrock() as bedrock,
        running_langfuse() as langfuse,
        open_callback_stack(work_dir, bedrock, langfuse) as opened,
    ):
        yield opened


@pytest.fixture(scope="module")
def throttled_chain(stack: CallbackStack) -> tuple[str, list[dict[str, Any]]]:
    """One request whose route is throttled until it falls back: its call id and trace."""
    stack.bedrock.set_fault(SONNET_4_6, "throttle", count=THROTTLED_ATTEMPTS)
    call_id, _ = stack.chat(
        "claude-sonnet-4-6", [{"role": "user", "content": "a long question " * 200}]
    )
    trace = stack.trace(call_id, observations=THROTTLED_ATTEMPTS + 2)
    stack.wait_until_delivered()
    return call_id, trace


def generations(trace: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((o for o in trace if o["type"] == "GENERATION"), key=lambda o: o["startTime"])


def test_throttled_attempts_cost_nothing(
    throttled_chain: tuple[str, list[dict[str, Any]]],
) -> None:
    _, trace = throttled_chain
    *throttled, answered = generations(trace)

    assert [a["level"] for a in throttled] == ["ERROR"] * THROTTLED_ATTEMPTS
    for attempt in throttled:
        assert attempt["usageDetails"] == {"input": 0, "output": 0, "total": 0}
        assert attempt["totalCost"] == 0
    assert answered["name"] == "claude-sonnet-4-5 (fallback 1)"
    assert answered["totalCost"] > 0


def test_the_trace_costs_only_the_billed_attempt(
    stack: CallbackStack, throttled_chain: tuple[str, list[dict[str, Any]]]
) -> None:
    call_id, trace = throttled_chain
    answered = generations(trace)[-1]

    shown = stack.langfuse.trace(trace_id(call_id))

    assert shown is not None
    assert sum(o["totalCost"] for o in trace) == pytest.approx(answered["totalCost"])
    assert shown["totalCost"] == pytest.approx(answered["totalCost"])


def test_the_fallback_tag_survives_any_arrival_order(
    stack: CallbackStack, throttled_chain: tuple[str, list[dict[str, Any]]]
) -> None:
    call_id, _ = throttled_chain
    spans = [s for s in stack.langfuse.spans() if s["traceId"] == trace_id(call_id)]
    assert len(spans) == THROTTLED_ATTEMPTS + 2

    # The trace's tags are those of the last span written that has tags: putting each span
    # last once covers every arrival order.
    orders = [(*spans[:i], *spans[i + 1 :], last) for i, last in enumerate(spans)]
    with running_langfuse() as replay:
        for order in orders:
            replay_in_order(replay, order)
        tags = [
            (replay.trace(root["traceId"]) or {}).get("tags") for root in replayed_roots(replay)
        ]

    assert len(tags) == len(orders)
    assert all("fallback" in found and "cline" in found for found in tags), tags


def test_a_stream_broken_after_output_began_costs_what_was_billed(stack: CallbackStack) -> None:
    # Bedrock bills the tokens a stream produced before it broke; LiteLLM recovers them.
    stack.bedrock.set_fault(SONNET_4_5, "midstream_throttle", count=1)
    raw = stack.client().chat.completions.with_raw_response.create(
        model="claude-sonnet-4-5",
        messages=[{"role": "user", "content": "stream and break"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    with pytest.raises(openai.APIError, match="Too many requests"):
        for _ in raw.parse():
            pass

    trace = stack.trace(raw.headers["x-litellm-call-id"], observations=2)

    [broken] = generations(trace)
    assert broken["level"] == "ERROR"
    assert broken["usageDetails"]["output"] > 0
    assert broken["totalCost"] > 0


def replay_in_order(langfuse: LangfuseStandIn, spans: tuple[dict[str, Any], ...]) -> None:
    """The spans as the callback sent them, one export each, under a fresh trace id."""
    fresh = uuid.uuid4().hex
    for view in spans:
        span = {
            "traceId": fresh,
            "spanId": view["spanId"],
            "name": view["name"],
            "kind": view["kind"],
            "startTimeUnixNano": str(view["startTimeUnixNano"]),
            "endTimeUnixNano": str(view["endTimeUnixNano"]),
            "attributes": encode_attributes(view["attributes"]),
            "status": view["status"],
        }
        if view["parentSpanId"]:
            span["parentSpanId"] = view["parentSpanId"]
        langfuse.post_otlp_json(export_request([span]))


def replayed_roots(langfuse: LangfuseStandIn) -> list[dict[str, Any]]:
    return [s for s in langfuse.spans() if s["parentSpanId"] is None]
