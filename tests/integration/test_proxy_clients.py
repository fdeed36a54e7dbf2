"""Cline, the OpenAI SDK and the Anthropic SDK through the real proxy, Bedrock stand-in behind.

Uses the package's shared proxy (conftest.proxy_stack). Usage is checked against what the
stand-in reported for the same call, so the numbers a client sees are Bedrock's own.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest

from llmops_kit.litellm_config import cost_map, validate_config
from llmops_kit.settings import REPO_ROOT
from tests.integration.cline_requests import CLINE_TOOL_NAMES, cli_request, extension_request
from tests.integration.conftest import DEVELOPER, ProxyStack
from tests.integration.proxy_harness import PROFILE_PREFIX

pytestmark = pytest.mark.integration

SONNET = "claude-sonnet-4-6"
CLAUDE_CODE_REQUESTS = REPO_ROOT / "tests" / "integration" / "data" / "claude_code_requests.json"
CONVERSATION = [
    {"role": "user", "content": "What does this repository do?"},
    {"role": "assistant", "content": "It runs a LiteLLM proxy in front of Bedrock."},
    {"role": "user", "content": "Summarise the README in one line."},
]
# What Cline reads from GET /v1/model/info to size its context and show costs.
CLINE_MODEL_INFO_FIELDS = (
    "max_input_tokens",
    "max_output_tokens",
    "supports_prompt_caching",
    "supports_reasoning",
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_creation_input_token_cost",
    "cache_read_input_token_cost",
)


def _streamed(stream: Any) -> tuple[str, list[Any], Any]:
    """(text, tool-call deltas, usage) of a streamed chat completion."""
    text, tool_calls, usage = "", [], None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            tool_calls += choice.delta.tool_calls or []
    return text, tool_calls, usage


def _bedrock_usage(stack: ProxyStack) -> dict[str, int]:
    return stack.bedrock.calls()[-1]["usage"]


def _expected_openai_usage(bedrock: dict[str, int]) -> dict[str, int]:
    """Bedrock's usage in OpenAI terms: prompt_tokens counts cache reads and writes too."""
    prompt = (
        bedrock["inputTokens"] + bedrock["cacheReadInputTokens"] + bedrock["cacheWriteInputTokens"]
    )
    return {
        "prompt_tokens": prompt,
        "completion_tokens": bedrock["outputTokens"],
        "cache_read_input_tokens": bedrock["cacheReadInputTokens"],
        "cache_creation_input_tokens": bedrock["cacheWriteInputTokens"],
    }


def _openai_usage(usage: Any) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cache_read_input_tokens": usage.model_extra["cache_read_input_tokens"],
        "cache_creation_input_tokens": usage.model_extra["cache_creation_input_tokens"],
    }


def test_model_info_gives_cline_each_groups_limits_caching_reasoning_and_prices(
    stack: ProxyStack,
) -> None:
    response = httpx.get(
        f"{stack.proxy.url}/v1/model/info",
        headers={"x-litellm-api-key": stack.proxy.master_key},
        timeout=30,
    )

    assert response.status_code == 200
    prices = cost_map()
    groups = {entry["model_name"]: entry for entry in response.json()["data"]}
    configured = validate_config(
        REPO_ROOT / "litellm_config.yml",
        {
            "BEDROCK_PROFILE_PREFIX": PROFILE_PREFIX,
            "AWS_REGION": "us-east-1",
            "LITELLM_MASTER_KEY": "sk-x",
        },
    )
    # Each route once under its own name: the tier names (hidden aliases) are not listed.
    assert sorted(groups) == sorted(configured.model_groups)
    for name, entry in groups.items():
        info = entry["model_info"]
        priced = prices[entry["litellm_params"]["model"].removeprefix("bedrock/converse/")]
        assert entry["litellm_params"]["model"].startswith(f"bedrock/converse/{PROFILE_PREFIX}.")
        fields = CLINE_MODEL_INFO_FIELDS
        assert {k: info[k] for k in fields} == {k: priced[k] for k in fields}, name


def test_cline_cli_stream_gets_text_tool_call_and_bedrock_usage(stack: ProxyStack) -> None:
    request = cli_request(SONNET, [{"role": "user", "content": "List the files here."}])

    text, tool_calls, usage = _streamed(stack.openai().chat.completions.create(**request))

    assert text == f"Calling {CLINE_TOOL_NAMES[0]}."
    assert tool_calls[0].function.name == CLINE_TOOL_NAMES[0]
    arguments = "".join(call.function.arguments or "" for call in tool_calls)
    assert json.loads(arguments) == {"target": "List the files here."}
    assert _openai_usage(usage) == _expected_openai_usage(_bedrock_usage(stack))


def test_cline_extension_first_turn_writes_the_prompt_cache(stack: ProxyStack) -> None:
    request = extension_request(SONNET, CONVERSATION, task_id="01JTASKWRITE")

    text, _, usage = _streamed(stack.openai().chat.completions.create(**request))

    bedrock = _bedrock_usage(stack)
    assert text.startswith(f"Hello from {PROFILE_PREFIX}.anthropic.claude-sonnet-4-6.")
    assert bedrock["cacheWriteInputTokens"] > 0
    assert _openai_usage(usage) == _expected_openai_usage(bedrock)


def test_cline_extension_repeated_prompt_reads_the_prompt_cache(stack: ProxyStack) -> None:
    request = extension_request(SONNET, CONVERSATION, task_id="01JTASKREAD")
    _streamed(stack.openai().chat.completions.create(**request))

    _, _, usage = _streamed(stack.openai().chat.completions.create(**request))

    bedrock = _bedrock_usage(stack)
    assert bedrock["cacheReadInputTokens"] > 0
    assert bedrock["cacheWriteInputTokens"] == 0
    assert _openai_usage(usage) == _expected_openai_usage(bedrock)


def test_cline_extension_session_id_reaches_the_callbacks(stack: ProxyStack) -> None:
    request = extension_request(SONNET, CONVERSATION, task_id="01JTASKSESSION")

    raw = stack.openai().chat.completions.with_raw_response.create(**request)
    _streamed(raw.parse())

    record = stack.wait_for_record(raw.headers["x-litellm-call-id"])
    assert record["session_id"] == "cline-01JTASKSESSION"


def test_non_streaming_completion_returns_answer_and_usage(stack: ProxyStack) -> None:
    completion = stack.openai().chat.completions.create(
        model=SONNET, messages=[{"role": "user", "content": "Say hello."}]
    )

    assert completion.choices[0].message.content == (
        f"Hello from {PROFILE_PREFIX}.anthropic.claude-sonnet-4-6. You said: Say hello."
    )
    assert _openai_usage(completion.usage) == _expected_openai_usage(_bedrock_usage(stack))


def test_anthropic_sdk_messages_endpoint_answers_with_bedrock_usage(stack: ProxyStack) -> None:
    client = anthropic.Anthropic(base_url=stack.proxy.url, api_key=DEVELOPER.key, max_retries=0)

    message = client.messages.create(
        model=SONNET, max_tokens=1024, messages=[{"role": "user", "content": "Say hello."}]
    )

    bedrock = _bedrock_usage(stack)
    assert message.content[0].text.endswith("You said: Say hello.")
    assert (message.usage.input_tokens, message.usage.output_tokens) == (
        bedrock["inputTokens"],
        bedrock["outputTokens"],
    )


def _thinking_turn(stack: ProxyStack, messages: list[dict[str, Any]]) -> Any:
    request = cli_request(SONNET, messages)
    request.update(
        stream=False, extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}}
    )
    del request["stream_options"]
    return stack.openai().chat.completions.create(**request).choices[0].message


def _tool_loop(first: Any, *, keep_thinking: bool) -> list[dict[str, Any]]:
    """The conversation after the first turn: its tool call answered, as a client sends it."""
    call = first.tool_calls[0]
    assistant: dict[str, Any] = {
        "role": "assistant",
        "content": first.content,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
        ],
    }
    if keep_thinking:
        assistant["thinking_blocks"] = first.model_extra["thinking_blocks"]
    return [
        {"role": "user", "content": "List the files here."},
        assistant,
        {"role": "tool", "tool_call_id": call.id, "content": "README.md pyproject.toml"},
    ]


def test_thinking_with_tools_continues_when_the_client_returns_thinking_blocks(
    stack: ProxyStack,
) -> None:
    first = _thinking_turn(stack, [{"role": "user", "content": "List the files here."}])

    second = _thinking_turn(stack, _tool_loop(first, keep_thinking=True))

    assert second.content.endswith("The tool returned: README.md pyproject.toml")
    assert second.model_extra["reasoning_content"]  # thinking stayed on for the second turn


def test_thinking_with_tools_continues_when_the_client_drops_thinking_blocks(
    stack: ProxyStack,
) -> None:
    first = _thinking_turn(stack, [{"role": "user", "content": "List the files here."}])

    second = _thinking_turn(stack, _tool_loop(first, keep_thinking=False))

    # Bedrock would answer 400; modify_params turns thinking off for this turn instead.
    assert second.content.endswith("The tool returned: README.md pyproject.toml")
    assert "thinking" not in (
        stack.bedrock.calls()[-1]["request"].get("additionalModelRequestFields") or {}
    )


def _claude_code_request(scenario: str) -> tuple[dict[str, str], dict[str, Any]]:
    """A request Claude Code sent (captured from the real CLI), with tool definitions restored."""
    captured = json.loads(CLAUDE_CODE_REQUESTS.read_text(encoding="utf-8"))
    request = captured["scenarios"][scenario]["requests"][0]
    body = dict(request["body"])
    body["tools"] = [captured["tool_definitions"][name] for name in body.get("tools", [])]
    headers = {k: v for k, v in request["headers"].items() if k != "authorization"}
    return headers, body


@pytest.mark.parametrize(
    ("scenario", "group"),
    [("default", "claude-opus-5-5"), ("model_haiku", "claude-haiku-5-5")],
)
def test_claude_code_with_only_base_url_and_token_is_answered_by_its_default_model(
    stack: ProxyStack, scenario: str, group: str
) -> None:
    headers, body = _claude_code_request(scenario)
    assert body["stream"] is True

    response = httpx.post(
        f"{stack.proxy.url}/v1/messages?beta=true",
        json=body,
        headers={**headers, "authorization": f"Bearer {stack.proxy.master_key}"},
        timeout=60,
    )

    assert response.status_code == 200, response.text
    assert response.headers["x-litellm-model-id"] == group
    assert "event: message_stop" in response.text
    assert stack.bedrock.calls()[-1]["model_id"] == f"{PROFILE_PREFIX}.anthropic.{group}"


def test_claude_code_with_an_anthropic_api_key_also_set_is_admitted_by_its_token(
    stack: ProxyStack,
) -> None:
    # With ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN both set, Claude Code 2.1.332 sends both
    # headers; LiteLLM authenticates by the Bearer token.
    headers, body = _claude_code_request("default")

    response = httpx.post(
        f"{stack.proxy.url}/v1/messages?beta=true",
        json=body,
        headers={
            **headers,
            "authorization": f"Bearer {stack.proxy.master_key}",
            "x-api-key": "sk-ant-api03-" + "x" * 40,
        },
        timeout=60,
    )

    assert response.status_code == 200, response.text
