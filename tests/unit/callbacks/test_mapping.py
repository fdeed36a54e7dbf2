"""Naming and size rules of the mapping to Langfuse spans."""

from __future__ import annotations

import pytest

from callbacks import extract, mapping
from callbacks.extract import Attempt, AttemptError, Cost, Request, Usage
from callbacks.otlp import attribute_map, encode_attributes


@pytest.mark.parametrize(
    ("user_agent", "client"),
    [
        ("Cline/3.38.2", "cline"),
        ("claude-cli/2.0.14 (external, cli)", "claude-cli"),
        ("codex_cli_rs/0.171.0 (Debian 12; x86_64) xterm", "codex"),
        ("OpenAI/Python 2.54.0", "openai-python"),
        ("Anthropic/Python 0.72.0", "anthropic-python"),
        ("curl/8.5.0", "curl"),
        ("", "unknown"),
    ],
)
def test_the_client_is_named_from_the_user_agent(user_agent: str, client: str) -> None:
    assert mapping.client_name(user_agent) == client


def _request(**fields: object) -> extract.Request:
    base: dict[str, object] = {
        "call_id": "call-1",
        "received_at": None,
        "requested_group": "claude-sonnet-4-6",
        "user_agent": "claude-cli/2.1.328 (external, sdk-cli)",
        "user_id": "alice@example.com",
        "key_alias": None,
        "team": None,
        "explicit_session": "ca2d380f",
    }
    return extract.Request(**{**base, **fields})  # type: ignore[arg-type]


def test_a_subagent_request_is_tagged_and_names_its_agents() -> None:
    request = _request(agent_id="a039f7b3d4a040af5", parent_agent_id="a5efef6cc01b2fe36")
    fields = mapping.trace_fields(request, session_id="ca2d380f", environment="dev", fallback=False)
    assert mapping.SUBAGENT_TAG in fields.tags
    assert fields.metadata["agent_id"] == "a039f7b3d4a040af5"
    assert fields.metadata["parent_agent_id"] == "a5efef6cc01b2fe36"
    assert fields.session_id == "ca2d380f"


def test_a_main_agent_request_is_not_tagged_as_a_subagent() -> None:
    fields = mapping.trace_fields(_request(), session_id=None, environment="dev", fallback=False)
    assert mapping.SUBAGENT_TAG not in fields.tags


def test_a_uuid_call_id_is_the_trace_id() -> None:
    call_id = "a55817f4-31d4-4657-838c-927324e2a401"
    assert mapping.trace_id_for(call_id) == "a55817f431d44657838c927324e2a401"


def test_any_other_call_id_gives_a_stable_32_hex_trace_id() -> None:
    trace_id = mapping.trace_id_for("client-chosen-id")
    assert trace_id == mapping.trace_id_for("client-chosen-id")
    assert len(trace_id) == 32 and int(trace_id, 16) >= 0


def test_each_attempt_of_a_request_has_its_own_span_id() -> None:
    first = mapping.generation_span_id("call", ("route-a", 0, 0))
    retry = mapping.generation_span_id("call", ("route-a", 1, 0))
    assert first != retry
    assert first == mapping.generation_span_id("call", ("route-a", 0, 0))


def span_with(**attributes: str) -> dict:
    return {"spanId": "00" * 8, "attributes": encode_attributes(attributes)}


def test_a_span_too_large_first_loses_length_then_bodies() -> None:
    span = span_with(**{"langfuse.observation.input": "x" * 200_000, "langfuse.trace.name": "t"})
    cut = mapping.smaller(span)
    assert len(attribute_map(cut)["langfuse.observation.input"]) < 70_000
    without = mapping.smaller(cut)
    assert attribute_map(without)["langfuse.observation.input"] == mapping.SPOOL_FULL_MARKER
    assert attribute_map(without)["langfuse.trace.name"] == "t"
    assert mapping.smaller(without) is None


REQUEST = Request(
    call_id="a55817f4-31d4-4657-838c-927324e2a401",
    received_at=100.0,
    requested_group="claude-sonnet-4-6",
    user_agent="Cline/3.38.2",
    user_id="alice",
    key_alias=None,
    team=None,
    explicit_session=None,
)
USED = Usage(input=10, output=5, cache_read=0, cache_write=0, reasoning=0, total=15)
PAID = Cost(
    input=0.00003, output=0.000075, cache_read=0.0, cache_write=0.0, reasoning=0.0, total=0.000105
)
THROTTLED = AttemptError("RateLimitError", "429", "bedrock", "Too many requests")


def attempt(**fields: object) -> Attempt:
    base: dict = {
        "request": REQUEST,
        "model_group": "claude-sonnet-4-6",
        "deployment": "bedrock/converse/us.anthropic.claude-sonnet-4-6",
        "deployment_id": "route-a",
        "retry": 0,
        "fallback": 0,
        "start": 100.0,
        "end": 101.0,
    }
    return Attempt(**{**base, **fields})


def generation_details(attempt_: Attempt) -> tuple[str | None, str | None]:
    fields = mapping.trace_fields(REQUEST, session_id=None, environment="ci", fallback=False)
    span = mapping.generation_span(
        attempt_, fields, input_messages=None, output=None, status_message=None, metadata={}
    )
    attributes = attribute_map(span)
    return (
        attributes.get("langfuse.observation.usage_details"),
        attributes.get("langfuse.observation.cost_details"),
    )


def test_a_success_states_litellms_usage_and_cost() -> None:
    assert mapping.billed(attempt(usage=USED, cost=PAID)) == (USED, PAID)


@pytest.mark.parametrize("usage", [None, Usage(0, 0, 0, 0, 0, 0)])
def test_a_refused_attempt_states_zero_usage_and_cost(usage: Usage | None) -> None:
    # Without them Langfuse would tokenize and price the attempt (its level plays no part).
    usage_text, cost_text = generation_details(attempt(error=THROTTLED, usage=usage))
    assert usage_text == '{"input":0,"output":0,"total":0}'
    assert cost_text == '{"input":0.0,"output":0.0,"total":0.0}'


def test_a_stream_broken_after_output_began_states_what_bedrock_billed() -> None:
    broken = attempt(error=THROTTLED, usage=USED, cost=PAID, completion_start=100.5)
    assert mapping.billed(broken) == (USED, PAID)


def test_partial_usage_without_a_cost_is_left_for_langfuse_to_price() -> None:
    assert mapping.billed(attempt(error=THROTTLED, usage=USED)) == (USED, None)


def test_an_answer_from_litellms_cache_costs_nothing() -> None:
    assert mapping.billed(attempt(usage=USED, cache_hit=True)) == (USED, mapping.NOTHING_BILLED)


def test_tags_are_left_out_until_they_are_final() -> None:
    early = mapping.trace_fields(
        REQUEST, session_id=None, environment="ci", fallback=False, tags_final=False
    )
    final = mapping.trace_fields(REQUEST, session_id=None, environment="ci", fallback=True)
    assert "langfuse.trace.tags" not in encoded(early.attributes())
    assert final.attributes()["langfuse.trace.tags"] == [
        "cline",
        "claude-sonnet-4-6",
        "ci",
        "fallback",
    ]


def encoded(attributes: dict) -> dict:
    return attribute_map({"attributes": encode_attributes(attributes)})
