"""Naming and size rules of the mapping to Langfuse spans."""

from __future__ import annotations

import pytest

from callbacks import extract, mapping
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
