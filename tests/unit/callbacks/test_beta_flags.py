"""Which anthropic-beta flags reach Bedrock, judged per routed model from the client's header."""

from __future__ import annotations

from typing import Any

from callbacks import beta_flags

# As Claude Code 2.1.328 sends them (captured through the kit), plus a flag from the future.
CLAUDE_CODE_BETAS = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    "thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,effort-2025-11-24,"
    "context-1m-2025-08-07,fine-grained-tool-streaming-2025-05-14,made-up-flag-2099-01-01"
)
KEPT_FOR_1M_MODELS = (
    "interleaved-thinking-2025-05-14,context-management-2025-06-27,effort-2025-11-24,"
    "context-1m-2025-08-07,fine-grained-tool-streaming-2025-05-14"
)


def deployment_call(model: str, scoped: Any = None) -> dict[str, Any]:
    """The kwargs LiteLLM gives async_pre_call_deployment_hook, reduced to what it reads."""
    if scoped is None:
        scoped = {"custom_llm_provider": "anthropic", "extra_headers": {"anthropic-beta": "x"}}
    return {
        "model": model,
        "provider_specific_header": scoped,
        "proxy_server_request": {"headers": {"Anthropic-Beta": CLAUDE_CODE_BETAS}},
    }


def forwarded(kwargs: dict[str, Any] | None) -> str | None:
    assert kwargs is not None
    return kwargs["provider_specific_header"]["extra_headers"].get("anthropic-beta")


def test_flags_bedrock_knows_are_forwarded_and_the_others_dropped() -> None:
    kwargs = beta_flags.filter_request(
        deployment_call("bedrock/converse/us.anthropic.claude-sonnet-4-6")
    )
    assert forwarded(kwargs) == KEPT_FOR_1M_MODELS


def test_context_1m_goes_to_a_model_that_gets_1m_by_beta() -> None:
    model = "bedrock/converse/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert "context-1m-2025-08-07" in forwarded(beta_flags.filter_request(deployment_call(model)))


def test_context_1m_is_dropped_for_a_model_without_a_1m_window() -> None:
    model = "bedrock/converse/us.anthropic.claude-haiku-4-5-20251001-v1:0"
    flags = forwarded(beta_flags.filter_request(deployment_call(model))).split(",")
    assert "context-1m-2025-08-07" not in flags
    assert "effort-2025-11-24" in flags


def test_a_fallback_is_judged_from_the_clients_header_not_an_earlier_attempt() -> None:
    haiku = beta_flags.filter_request(
        deployment_call("bedrock/converse/us.anthropic.claude-haiku-4-5-20251001-v1:0")
    )
    assert haiku is not None
    sonnet = beta_flags.filter_request(
        {**haiku, "model": "bedrock/converse/us.anthropic.claude-sonnet-4-6"}
    )
    assert forwarded(sonnet) == KEPT_FOR_1M_MODELS


def test_no_accepted_flag_left_removes_the_header() -> None:
    kwargs = deployment_call("bedrock/converse/us.anthropic.claude-sonnet-4-6")
    kwargs["proxy_server_request"]["headers"] = {"anthropic-beta": "claude-code-20250219"}
    assert forwarded(beta_flags.filter_request(kwargs)) is None


def test_a_list_of_scoped_headers_is_filtered_entry_by_entry() -> None:
    oauth = {"custom_llm_provider": "anthropic", "extra_headers": {"authorization": "Bearer t"}}
    betas = {"custom_llm_provider": "anthropic", "extra_headers": {"anthropic-beta": "x"}}
    kwargs = beta_flags.filter_request(
        deployment_call("bedrock/converse/us.anthropic.claude-sonnet-4-6", [oauth, betas])
    )
    assert kwargs is not None
    assert kwargs["provider_specific_header"][0] is oauth
    assert kwargs["provider_specific_header"][1]["extra_headers"]["anthropic-beta"] == (
        KEPT_FOR_1M_MODELS
    )


def test_other_providers_and_calls_without_client_headers_are_left_alone() -> None:
    assert beta_flags.filter_request(deployment_call("anthropic/claude-sonnet-4-6")) is None
    call = deployment_call("bedrock/converse/us.anthropic.claude-sonnet-4-6")
    del call["provider_specific_header"]
    assert beta_flags.filter_request(call) is None
