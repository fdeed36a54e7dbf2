"""Retries and fallbacks of the real config, proven by the calls Bedrock (the stand-in) received.

A route that fails cools down inside the proxy (router_settings.allowed_fails/cooldown_time),
so this module runs its own proxy, and each test fails routes no other test here needs
healthy: opus-4-8 (falls back to opus-4-7), haiku-4-5 and sonnet-4-6 (a fully throttled
chain), opus-4-7 (a 400, which does not count towards a cooldown), sonnet-4-5 (mid-stream),
opus-5-5 (asked for by its tier name, falls back to opus-5).
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.integration.conftest import ProxyStack, open_stack
from tests.integration.proxy_harness import PROFILE_PREFIX

pytestmark = pytest.mark.integration

HELLO = [{"role": "user", "content": "Say hello."}]
OPUS_4_8 = f"{PROFILE_PREFIX}.anthropic.claude-opus-4-8"
OPUS_4_7 = f"{PROFILE_PREFIX}.anthropic.claude-opus-4-7"
HAIKU_4_5 = f"{PROFILE_PREFIX}.anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET_4_6 = f"{PROFILE_PREFIX}.anthropic.claude-sonnet-4-6"
SONNET_4_5 = f"{PROFILE_PREFIX}.anthropic.claude-sonnet-4-5-20250929-v1:0"
OPUS_5_5 = f"{PROFILE_PREFIX}.anthropic.claude-opus-5-5"
OPUS_5 = f"{PROFILE_PREFIX}.anthropic.claude-opus-5"
ATTEMPTS_ON_THROTTLING = 3  # the first call and RateLimitErrorRetries: 2


@pytest.fixture(scope="module")
def failing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyStack]:
    with open_stack(tmp_path_factory.mktemp("failures")) as opened:
        yield opened


@pytest.fixture
def stack(failing_stack: ProxyStack) -> ProxyStack:
    failing_stack.bedrock.reset()
    return failing_stack


def _called(stack: ProxyStack) -> list[tuple[str, int]]:
    return [(call["model_id"], call["status"]) for call in stack.bedrock.calls()]


def test_throttled_primary_is_retried_then_answered_by_its_fallback(stack: ProxyStack) -> None:
    stack.bedrock.set_fault(OPUS_4_8, "throttle")

    raw = stack.openai().chat.completions.with_raw_response.create(
        model="claude-opus-4-8", messages=HELLO
    )

    assert raw.headers["x-litellm-model-id"] == "claude-opus-4-7"
    assert raw.parse().choices[0].message.content.startswith(f"Hello from {OPUS_4_7}.")
    assert _called(stack) == [(OPUS_4_8, 429)] * ATTEMPTS_ON_THROTTLING + [(OPUS_4_7, 200)]


def test_fully_throttled_chain_stops_after_the_groups_own_fallbacks(stack: ProxyStack) -> None:
    stack.bedrock.set_fault(HAIKU_4_5, "throttle")
    stack.bedrock.set_fault(SONNET_4_6, "throttle")

    with pytest.raises(openai.RateLimitError):
        stack.openai().chat.completions.create(model="claude-haiku-4-5", messages=HELLO)

    # claude-sonnet-4-6's own fallback (claude-sonnet-4-5) is not walked: max_fallbacks: 1.
    assert (
        _called(stack)
        == [(HAIKU_4_5, 429)] * ATTEMPTS_ON_THROTTLING
        + [(SONNET_4_6, 429)] * ATTEMPTS_ON_THROTTLING
    )


def test_bad_request_is_neither_retried_nor_sent_to_a_fallback(stack: ProxyStack) -> None:
    stack.bedrock.set_fault(OPUS_4_7, "validation", message="messages.0: bad block")

    with pytest.raises(openai.BadRequestError) as refused:
        stack.openai().chat.completions.create(model="claude-opus-4-7", messages=HELLO)

    assert "messages.0: bad block" in refused.value.message
    assert _called(stack) == [(OPUS_4_7, 400)]


def test_midstream_throttle_delivers_the_partial_text_once_then_the_error(
    stack: ProxyStack,
) -> None:
    stack.bedrock.set_fault(SONNET_4_5, "midstream_throttle")
    received = ""

    with pytest.raises(openai.APIError, match="Too many requests"):
        stream = stack.openai().chat.completions.create(
            model="claude-sonnet-4-5", messages=HELLO, stream=True
        )
        for chunk in stream:
            received += "".join(choice.delta.content or "" for choice in chunk.choices)

    [call] = stack.bedrock.calls()
    assert call["error"] == "throttlingException"
    assert received == call["response_text"] != ""


def test_tier_name_reaches_the_newest_group_and_its_previous_generation_on_throttling(
    stack: ProxyStack,
) -> None:
    stack.bedrock.set_fault(OPUS_5_5, "throttle")

    raw = stack.openai().chat.completions.with_raw_response.create(model="opus", messages=HELLO)

    assert raw.headers["x-litellm-model-id"] == "claude-opus-5"
    assert _called(stack) == [(OPUS_5_5, 429)] * ATTEMPTS_ON_THROTTLING + [(OPUS_5, 200)]
