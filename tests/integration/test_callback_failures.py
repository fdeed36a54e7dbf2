"""Through the real proxy: retries, fallbacks and failed requests, as Langfuse shows them.

Own proxy: failed routes cool down inside it. The test that fails every route runs last.
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.fakes.bedrock.harness import running_bedrock
from tests.fakes.langfuse.harness import running_langfuse
from tests.integration.callback_stack import CallbackStack, open_callback_stack

pytestmark = pytest.mark.integration

SONNET_4_6 = "us.anthropic.claude-sonnet-4-6"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbackStack]:
    work_dir = tmp_path_factory.mktemp("callback-failures")
    with (
        running_bedrock() as bedrock,
        running_langfuse() as langfuse,
        open_callback_stack(work_dir, bedrock, langfuse) as opened,
    ):
        yield opened


def generations(trace: list[dict]) -> list[dict]:
    return sorted((o for o in trace if o["type"] == "GENERATION"), key=lambda o: o["startTime"])


def test_a_throttled_attempt_and_its_retry_are_sibling_generations(stack: CallbackStack) -> None:
    stack.bedrock.set_fault(SONNET_4_6, "throttle", count=1)
    call_id, _ = stack.chat("claude-sonnet-4-6", [{"role": "user", "content": "retry me"}])
    trace = stack.trace(call_id, observations=3)
    root, (throttled, answered) = trace[0], generations(trace)
    assert throttled["parentObservationId"] == answered["parentObservationId"] == root["id"]
    assert throttled["level"] == "ERROR"
    assert throttled["statusMessage"].startswith("RateLimitError (429) from bedrock")
    assert answered["name"] == "claude-sonnet-4-6 (retry 1)"
    assert answered["level"] == "DEFAULT"
    assert "fallback" not in root["tags"]


def test_a_fallback_is_recorded_with_every_attempt_and_its_error(stack: CallbackStack) -> None:
    stack.bedrock.set_fault(SONNET_4_6, "unavailable", count=2)
    call_id, _ = stack.chat("claude-sonnet-4-6", [{"role": "user", "content": "fall back"}])
    trace = stack.trace(call_id, observations=4)
    root, attempts = trace[0], generations(trace)
    assert [a["name"] for a in attempts] == [
        "claude-sonnet-4-6",
        "claude-sonnet-4-6 (retry 1)",
        "claude-sonnet-4-5 (fallback 1)",
    ]
    assert [a["level"] for a in attempts] == ["ERROR", "ERROR", "DEFAULT"]
    assert all("ServiceUnavailableError (503)" in a["statusMessage"] for a in attempts[:2])
    assert attempts[2]["model"] == "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert attempts[2]["costDetails"]["total"] > 0
    assert "fallback" in root["tags"]
    assert root["level"] == "DEFAULT"


def test_a_request_failing_on_every_route_is_traced(stack: CallbackStack) -> None:
    stack.bedrock.set_fault("*", "unavailable")
    with pytest.raises(openai.APIStatusError) as failure:
        stack.client().chat.completions.create(
            model="claude-haiku-4-5", messages=[{"role": "user", "content": "doomed"}]
        )
    call_id = failure.value.response.headers["x-litellm-call-id"]
    trace = stack.trace(call_id, observations=5)
    root, attempts = trace[0], generations(trace)
    assert root["level"] == "ERROR"
    assert root["statusMessage"].startswith("ServiceUnavailableError (503)")
    assert root["traceName"] == "cline / claude-haiku-4-5"
    assert "fallback" in root["tags"]
    assert [a["level"] for a in attempts] == ["ERROR"] * 4
    assert [a["name"] for a in attempts][-1] == "claude-sonnet-4-6 (fallback 1) (retry 1)"
