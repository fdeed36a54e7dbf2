"""How the end-to-end script judges a request and its trace (tests/test_litellm_langfuse.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from llmops_kit.langfuse_api import Observation
from tests.test_litellm_langfuse import (
    Exchange,
    missing_trace_message,
    resolve_target,
    response_problems,
    trace_problems,
)

SESSION = "llmops-test-1"


def _exchange() -> Exchange:
    return Exchange(
        "claude-haiku-4-5",
        True,
        SESSION,
        status=200,
        model="claude-haiku-4-5",
        text="pong",
        prompt_tokens=12,
        completion_tokens=2,
    )


def _generation() -> Observation:
    return Observation(
        id="o1",
        trace_id="t1",
        type="GENERATION",
        name="cli / claude-haiku-4-5",
        model="us.anthropic.claude-haiku-4-5-20251001-v1:0",
        session_id=SESSION,
        user_id="",
        level="DEFAULT",
        status_message="",
        start_time=None,
        completion_start_time=None,
        usage={"input": 12, "output": 2},
        cost={"total": 0.000022},
        total_cost=0.000022,
    )


def test_a_trace_that_matches_the_request_has_no_problem() -> None:
    exchange = _exchange()
    exchange.observation = _generation()
    assert trace_problems(exchange) == []


def test_token_counts_must_equal_what_the_client_was_told() -> None:
    exchange = _exchange()
    exchange.observation = replace(_generation(), usage={"input": 10, "output": 2})
    assert trace_problems(exchange) == ["input tokens 10 != 12"]


def test_a_trace_without_cost_or_with_another_session_is_reported() -> None:
    exchange = _exchange()
    exchange.observation = replace(_generation(), total_cost=0.0, session_id="other")
    assert trace_problems(exchange) == [
        "cost 0.0: the route is not priced",
        f"session 'other' != '{SESSION}'",
    ]


def test_a_streamed_answer_without_usage_names_include_usage() -> None:
    exchange = replace(_exchange(), prompt_tokens=0, completion_tokens=0)
    (problem,) = response_problems(exchange)
    assert "stream_options.include_usage" in problem


def test_the_missing_trace_message_explains_the_ingestion_delay() -> None:
    message = missing_trace_message(_exchange(), 90)
    assert message.startswith(f"no generation for session {SESSION} in Langfuse after 90 s")
    assert "15 to 30 s" in message
    assert "python manage_langfuse.py doctor" in message


def test_the_stack_internal_langfuse_host_is_read_through_the_published_port(
    tmp_path: Path,
) -> None:
    env = tmp_path / ".env"
    env.write_text("LANGFUSE_HOST=http://langfuse-web:3000\nLANGFUSE_WEB_PORT=13000\n")
    assert resolve_target(env, {}).langfuse_url == "http://127.0.0.1:13000"
    env.write_text("LANGFUSE_HOST=https://cloud.langfuse.com/\n")
    assert resolve_target(env, {}).langfuse_url == "https://cloud.langfuse.com"
