"""Reading LiteLLM's hook arguments, checked on payloads captured from the real proxy."""

from __future__ import annotations

import datetime as dt

import pytest

from callbacks import extract

from .doubles import exception_from


def test_success_attempt_reads_route_timing_and_parameters(captured) -> None:
    attempt = extract.attempt_from_logging(captured("cline_turn2_stream_success"), None)
    payload = captured("cline_turn2_stream_success")["standard_logging_object"]
    assert attempt.model_group == "claude-sonnet-4-6"
    assert attempt.deployment == "bedrock/converse/us.anthropic.claude-sonnet-4-6"
    assert attempt.deployment_id == payload["model_id"]
    assert (attempt.retry, attempt.fallback) == (0, 0)
    assert attempt.start == payload["startTime"]
    assert attempt.end == payload["endTime"]
    assert attempt.completion_start == payload["completionStartTime"]
    assert attempt.parameters == {
        "temperature": 0,
        "max_tokens": 8192,
        "stream": True,
        "tools": ["read_file", "write_to_file", "execute_command"],
    }
    assert attempt.error is None


def test_usage_splits_cached_input_from_fresh_input(captured) -> None:
    # Bedrock reported 19 fresh input tokens, 625 read from and 321 written to the cache.
    attempt = extract.attempt_from_logging(captured("cline_turn2_stream_success"), None)
    assert attempt.usage == extract.Usage(
        input=19, output=8, cache_read=625, cache_write=321, reasoning=0, total=973
    )


def test_cost_parts_add_up_to_litellms_total(captured) -> None:
    payload = captured("cline_turn2_stream_success")["standard_logging_object"]
    cost = extract.attempt_from_logging(captured("cline_turn2_stream_success"), None).cost
    assert cost is not None
    prices = payload["model_map_information"]["model_map_value"]
    assert cost.input == pytest.approx(19 * prices["input_cost_per_token"], rel=1e-9)
    assert cost.cache_read == pytest.approx(625 * prices["cache_read_input_token_cost"], rel=1e-9)
    assert cost.cache_write == pytest.approx(
        321 * prices["cache_creation_input_token_cost"], rel=1e-9
    )
    assert cost.output == pytest.approx(8 * prices["output_cost_per_token"], rel=1e-9)
    assert cost.total == payload["response_cost"]
    assert cost.input + cost.cache_read + cost.cache_write + cost.output == pytest.approx(
        cost.total, rel=1e-9
    )


def test_output_is_the_assistant_message(captured) -> None:
    attempt = extract.attempt_from_logging(captured("cline_turn2_stream_success"), None)
    assert attempt.output["role"] == "assistant"
    assert attempt.output["tool_calls"][0]["function"]["name"] == "read_file"


def test_non_streaming_success_has_no_time_to_first_token(captured) -> None:
    attempt = extract.attempt_from_logging(captured("retry_success"), None)
    assert attempt.completion_start is None


def test_retry_success_is_the_second_attempt_on_the_same_route(captured) -> None:
    attempt = extract.attempt_from_logging(captured("retry_success"), None)
    assert (attempt.model_group, attempt.retry, attempt.fallback) == ("claude-sonnet-4-6", 1, 0)


def test_stream_after_fallback_starts_when_the_router_started_its_attempt(captured) -> None:
    payload = captured("cline_turn2_stream_success")["standard_logging_object"]
    later = payload["startTime"] + 0.004
    attempt = extract.attempt_from_logging(captured("cline_turn2_stream_success"), later)
    assert attempt.start == later


def test_request_names_client_model_group_and_receipt_time(captured) -> None:
    request = extract.request_from_logging(captured("cline_turn2_stream_success"))
    metadata = captured("cline_turn2_stream_success")["litellm_params"]["metadata"]
    assert request.user_agent == "Cline/3.38.2"
    assert request.requested_group == "claude-sonnet-4-6"
    assert request.call_id == "a55817f4-31d4-4657-838c-927324e2a401"
    received = dt.datetime.fromisoformat(metadata["litellm_received_at"]).timestamp()
    assert request.received_at == received
    assert request.explicit_session is None
    assert [m["role"] for m in request.messages] == ["system", "user", "assistant", "user"]


def test_master_key_is_not_a_user_but_the_request_user_field_is(captured) -> None:
    request = extract.request_from_logging(captured("retry_success"))
    assert request.user_id == "dev@example.com"


def test_keys_file_user_wins_over_key_alias_and_end_user(captured) -> None:
    kwargs = captured("retry_success")
    metadata = kwargs["litellm_params"]["metadata"]
    metadata.update(user_api_key_user_id="alice@example.com", user_api_key_alias="alice-laptop")
    assert extract.request_from_logging(kwargs).user_id == "alice@example.com"


def test_session_header_arrives_as_an_explicit_session(captured) -> None:
    data = captured("allfail_request_failure")["request_data"]
    assert extract.request_from_data(data).explicit_session == "5f0c2a9e-claude-session"


def test_claude_code_subagent_headers_name_the_agent_and_its_parent(captured) -> None:
    kwargs = captured("retry_success")
    kwargs["litellm_params"]["metadata"].setdefault("headers", {}).update(
        {"X-Claude-Code-Agent-Id": "a039f7b3d4a040af5", "x-claude-code-parent-agent-id": "a5ef"}
    )
    request = extract.request_from_logging(kwargs)
    assert (request.agent_id, request.parent_agent_id) == ("a039f7b3d4a040af5", "a5ef")
    assert extract.request_from_json(vars(request)) == request  # crosses to the delivery process


def test_main_agent_request_has_no_agent_id(captured) -> None:
    request = extract.request_from_logging(captured("cline_turn2_stream_success"))
    assert (request.agent_id, request.parent_agent_id) == (None, None)


def test_deployment_failure_names_route_attempt_and_error(captured) -> None:
    failure = captured("allfail_deployment_failure_3")
    exception = failure["exception"]
    attempt = extract.attempt_from_deployment_failure(
        failure["request_data"], exception_from(exception), started=100.0, now=101.5
    )
    assert attempt.model_group == "claude-haiku-4-5"
    assert attempt.deployment == "bedrock/converse/us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert (attempt.retry, attempt.fallback) == (0, 1)
    assert (attempt.start, attempt.end) == (100.0, 101.5)
    assert attempt.error == extract.AttemptError(
        kind="ServiceUnavailableError",
        status="503",
        provider="bedrock",
        message=exception["message"],
    )
    assert attempt.usage is None and attempt.output is None


def test_first_failure_event_and_deployment_hook_describe_the_same_attempt(captured) -> None:
    failure = captured("retry_deployment_failure")
    by_hook = extract.attempt_from_deployment_failure(
        failure["request_data"], RuntimeError("x"), None, 0.0
    )
    by_event = extract.attempt_from_logging(captured("retry_first_failure"), None)
    assert by_hook.key == by_event.key


def test_midstream_failure_keeps_its_time_to_first_token_and_error(captured) -> None:
    attempt = extract.attempt_from_logging(captured("midstream_failure"), None)
    assert attempt.completion_start is not None
    assert attempt.error is not None
    assert attempt.error.kind == "BedrockError"
    assert attempt.error.status == "429"
    assert attempt.error.message.startswith("throttlingException")
    # What Bedrock billed before the stream broke, as LiteLLM recovered it.
    assert attempt.usage is not None and attempt.usage.total == 13
    assert attempt.cost is not None and attempt.cost.total == 6.93e-05
