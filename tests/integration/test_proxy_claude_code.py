"""Claude Code's requests through the real proxy, the Bedrock stand-in behind it.

The request shapes are Claude Code 2.1.328's own (claude_code_requests.py). The module runs
its own proxy with its outbound traffic watched (egress_recorder.py): HTTP(S)_PROXY points at a
recorder that forwards nothing, so any attempt to reach a host other than the configured
Bedrock endpoint (bedrock-mantle, another region, GitHub for LiteLLM's beta-flag map, ...) is
recorded, and every test ends by checking that there was none. The proxy's region is
us-west-2, which the price map's count model for opus-4-8 (us-east-1) is not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.fakes.bedrock.betas import ACCEPTED_BETA_FLAGS
from tests.fakes.bedrock.harness import running_bedrock
from tests.fakes.bedrock.replies import REASONING_TEXT
from tests.integration import claude_code_requests as claude_code
from tests.integration.conftest import DEVELOPER, RECORD_WAIT_S, ProxyStack, open_stack
from tests.integration.egress_recorder import EgressLog, recording_egress
from tests.integration.proxy_harness import start_proxy

pytestmark = pytest.mark.integration

REGION = "us-west-2"
SONNET = "claude-sonnet-4-6"
CONTEXT_1M = "context-1m-2025-08-07"
FUTURE_FLAG = "made-up-flag-2099-01-01"
CANNOT_COUNT = "The provided model doesn't support counting tokens."


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxyStack, EgressLog]]:
    with recording_egress() as egress:
        overrides = {**egress.environment(), "AWS_REGION": REGION}
        with open_stack(tmp_path_factory.mktemp("claude-code"), env_overrides=overrides) as opened:
            yield opened, egress


@pytest.fixture
def stack(watched: tuple[ProxyStack, EgressLog]) -> Iterator[ProxyStack]:
    opened, egress = watched
    opened.bedrock.reset()
    yield opened
    assert egress.destinations() == [], "the proxy tried to leave for an unconfigured host"


def send(
    stack: ProxyStack, body: dict[str, Any], request_headers: dict[str, str]
) -> tuple[httpx.Response, dict[str, Any]]:
    """POST /v1/messages?beta=true as Claude Code does; the reply rebuilt from its stream."""
    response = httpx.post(
        f"{stack.proxy.url}/v1/messages?beta=true",
        headers=request_headers,
        json=body,
        timeout=60,
    )
    if response.status_code != 200 or not body.get("stream"):
        return response, response.json()
    return response, assemble(response.text)


def assemble(stream: str) -> dict[str, Any]:
    """An Anthropic message from its server-sent events, as the SDK assembles it."""
    message: dict[str, Any] = {}
    for line in stream.splitlines():
        if not line.startswith("data: "):
            continue
        event = json.loads(line.removeprefix("data: "))
        kind = event["type"]
        if kind == "error":
            raise AssertionError(f"error event in the stream: {event}")
        if kind == "message_start":
            message = {**event["message"], "content": []}
        elif kind == "content_block_start":
            message["content"].append(dict(event["content_block"]))
        elif kind == "content_block_delta":
            _apply(message["content"][event["index"]], event["delta"])
        elif kind == "message_delta":
            message.update(event["delta"])
    for block in message.get("content", []):
        if block["type"] == "tool_use" and isinstance(block.get("input"), str):
            block["input"] = json.loads(block["input"] or "{}")
    return message


def _apply(block: dict[str, Any], delta: dict[str, Any]) -> None:
    field = {
        "text_delta": "text",
        "thinking_delta": "thinking",
        "signature_delta": "signature",
        "input_json_delta": "partial_json",
    }[delta["type"]]
    target = "input" if field == "partial_json" else field
    if target == "input" and not isinstance(block.get("input"), str):
        block["input"] = ""
    block[target] = (block.get(target) or "") + delta[field]


def session() -> str:
    return str(uuid.uuid4())


def bedrock_flags(stack: ProxyStack) -> set[str]:
    (call,) = [c for c in stack.bedrock.calls() if c["operation"].startswith("Converse")]
    return set(call["beta_flags"])


# --- anthropic-beta ------------------------------------------------------------------------


def test_claude_code_turn_answers_with_only_flags_bedrock_accepts(stack: ProxyStack) -> None:
    sent = claude_code.headers(DEVELOPER.key, session())
    response, message = send(
        stack, claude_code.body(SONNET, "s", [claude_code.user_turn("Say hi")]), sent
    )

    assert response.status_code == 200, response.text
    assert message["stop_reason"] == "tool_use"  # the stand-in calls the first tool
    assert bedrock_flags(stack) == {"effort-2025-11-24"}


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # 1M window natively, and by the beta flag: the flag goes with the request.
        (SONNET, {"effort-2025-11-24", CONTEXT_1M, "fine-grained-tool-streaming-2025-05-14"}),
        (
            "claude-sonnet-4-5",
            {"effort-2025-11-24", CONTEXT_1M, "fine-grained-tool-streaming-2025-05-14"},
        ),
        # 200k only: the 1M flag is dropped.
        ("claude-haiku-4-5", {"effort-2025-11-24", "fine-grained-tool-streaming-2025-05-14"}),
    ],
)
def test_unknown_and_future_flags_are_dropped_and_1m_goes_only_where_it_fits(
    stack: ProxyStack, model: str, expected: set[str]
) -> None:
    betas = (
        *claude_code.BETAS,
        CONTEXT_1M,
        "fine-grained-tool-streaming-2025-05-14",
        FUTURE_FLAG,
    )
    sent = claude_code.headers(DEVELOPER.key, session(), betas=betas)
    response, _ = send(stack, claude_code.body(model, "s", [claude_code.user_turn("hi")]), sent)

    assert response.status_code == 200, response.text
    assert bedrock_flags(stack) == expected
    assert bedrock_flags(stack) <= ACCEPTED_BETA_FLAGS


# --- extended thinking with tools, multi-turn ------------------------------------------------


def test_thinking_with_tools_keeps_thinking_blocks_and_signatures_across_turns(
    stack: ProxyStack,
) -> None:
    sent = claude_code.headers(DEVELOPER.key, session())
    history = [claude_code.user_turn("Read the README.")]

    first_response, first = send(stack, claude_code.body(SONNET, "s", history), sent)
    assert first_response.status_code == 200, first_response.text
    thinking, _, tool_use = first["content"]
    assert thinking["type"] == "thinking" and thinking["signature"]
    assert tool_use["type"] == "tool_use" and tool_use["name"] == "Read"

    history += [
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": tool_use["id"], "content": "# The kit"}
            ],
        },
    ]
    second_response, second = send(stack, claude_code.body(SONNET, "s", history), sent)
    assert second_response.status_code == 200, second_response.text
    assert second["content"][-1]["text"].endswith("The tool returned: # The kit")

    history += [
        {"role": "assistant", "content": second["content"]},
        claude_code.user_turn("Thanks. And the licence?"),
    ]
    third_response, _ = send(stack, claude_code.body(SONNET, "s", history), sent)
    assert third_response.status_code == 200, third_response.text

    # Bedrock got the thinking block back, signature unchanged, on every later turn.
    later = [c["request"]["messages"] for c in stack.bedrock.calls()[1:]]
    for messages in later:
        reasoning = messages[1]["content"][0]["reasoningContent"]["reasoningText"]
        assert reasoning["signature"] == thinking["signature"]


def test_anthropic_sdk_stream_keeps_the_thinking_text_its_signature_was_issued_for(
    stack: ProxyStack,
) -> None:
    client = anthropic.Anthropic(base_url=stack.proxy.url, api_key=DEVELOPER.key, max_retries=0)
    request: dict[str, Any] = {
        "model": SONNET,
        "max_tokens": 2048,
        "tools": [claude_code.READ_TOOL],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    history: list[dict[str, Any]] = [{"role": "user", "content": "Read the README."}]
    with client.messages.stream(**request, messages=history) as stream:
        first = stream.get_final_message()
    thinking = first.content[0]
    assert thinking.thinking == REASONING_TEXT  # not its first word twice
    tool_use = first.content[-1]
    history += [
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "ok"}],
        },
    ]

    with client.messages.stream(**request, messages=history) as stream:
        second = stream.get_final_message()

    assert second.content[-1].text.endswith("The tool returned: ok")


def test_an_edited_thinking_block_is_bedrocks_400_without_retry_or_fallback(
    stack: ProxyStack,
) -> None:
    sent = claude_code.headers(DEVELOPER.key, session())
    history = [claude_code.user_turn("Read the README.")]
    _, first = send(stack, claude_code.body(SONNET, "s", history), sent)
    thinking, text, tool_use = first["content"]
    edited = {**thinking, "thinking": "Something else entirely."}
    history += [
        {"role": "assistant", "content": [edited, text, tool_use]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "x"}],
        },
    ]

    response, error = send(stack, claude_code.body(SONNET, "s", history), sent)

    assert response.status_code == 400
    assert "Invalid `signature` in `thinking` block" in json.dumps(error)
    assert len(stack.bedrock.calls()) == 2


# --- count_tokens --------------------------------------------------------------------------


def count(stack: ProxyStack, model: str, prompt: str = "What does this repository do?") -> Any:
    response = httpx.post(
        f"{stack.proxy.url}/v1/messages/count_tokens?beta=true",
        headers=claude_code.headers(DEVELOPER.key, session()),
        json=claude_code.count_tokens_body(model, [claude_code.user_turn(prompt)]),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_count_tokens_answers_bedrocks_count_for_claude_codes_prompt(stack: ProxyStack) -> None:
    answer = count(stack, SONNET)

    (call,) = stack.bedrock.calls()
    assert (call["operation"], call["model_id"], call["status"]) == (
        "CountTokens",
        "anthropic.claude-sonnet-4-6",
        200,
    )
    assert answer["input_tokens"] == call["usage"]["inputTokens"]
    assert answer["litellm_count_source"] != "local_estimate"


def test_count_tokens_stays_in_the_configured_region(stack: ProxyStack) -> None:
    # LiteLLM's price map counts opus-4-8 with a model "in us-east-1".
    count(stack, "claude-opus-4-8")

    (call,) = stack.bedrock.calls()
    assert (call["operation"], call["status"]) == ("CountTokens", 200)
    assert call["auth"]["region"] == REGION


def test_count_tokens_bedrock_cannot_answer_is_estimated_without_leaving(
    stack: ProxyStack,
) -> None:
    stack.bedrock.set_fault("anthropic.claude-sonnet-4-6", "validation", message=CANNOT_COUNT)

    answer = count(stack, SONNET)

    assert answer["litellm_count_source"] == "local_estimate"
    assert answer["input_tokens"] > 0
    (call,) = stack.bedrock.calls()
    assert call["status"] == 400
    # and the `stack` fixture checks that no bedrock-mantle host was tried


def test_without_the_guard_litellm_would_ask_the_public_bedrock_mantle_host(
    tmp_path: Path,
) -> None:
    """Shows what the guard prevents, and that the recorder sees it (LiteLLM 1.106.2)."""
    with (
        recording_egress() as egress,
        running_bedrock() as bedrock,
        start_proxy(
            bedrock,
            tmp_path,
            callbacks=("callbacks.fallback_policy.fallback_policy",),
            env_overrides={**egress.environment(), "AWS_REGION": REGION},
        ) as proxy,
    ):
        bedrock.set_fault("anthropic.claude-sonnet-4-6", "validation", message=CANNOT_COUNT)
        response = httpx.post(
            f"{proxy.url}/v1/messages/count_tokens",
            headers={"authorization": f"Bearer {proxy.master_key}"},
            json={"model": SONNET, "messages": [{"role": "user", "content": "hi"}]},
            timeout=60,
        )
        assert response.status_code == 200
        assert egress.destinations() == [f"bedrock-mantle.{REGION}.api.aws:443"]


# --- session and subagents -----------------------------------------------------------------


def test_session_is_claude_codes_and_subagent_headers_reach_the_callbacks(
    stack: ProxyStack,
) -> None:
    session_id = session()
    sent = claude_code.headers(
        DEVELOPER.key, session_id, agent_id="a039f7b3d4a040af5", parent_agent_id="a5efef6c"
    )
    response, _ = send(
        stack, claude_code.body(SONNET, session_id, [claude_code.user_turn("hi")]), sent
    )
    assert response.status_code == 200, response.text

    record = stack.wait_for_record(response.headers["x-litellm-call-id"])
    assert record["session_id"] == session_id
    assert record["user_agent"] == claude_code.USER_AGENT
    forwarded = record["metadata"]["requester_custom_headers"]
    assert forwarded["x-claude-code-agent-id"] == "a039f7b3d4a040af5"
    assert forwarded["x-claude-code-parent-agent-id"] == "a5efef6c"


# --- the real CLI (opt-in) -------------------------------------------------------------------

CLAUDE_BIN_VARIABLE = "LLMOPS_TEST_CLAUDE_BIN"


@pytest.mark.skipif(
    not (os.environ.get(CLAUDE_BIN_VARIABLE) and shutil.which(os.environ[CLAUDE_BIN_VARIABLE])),
    reason=f"set {CLAUDE_BIN_VARIABLE} to a Claude Code binary to run it against the proxy",
)
def test_the_real_claude_code_answers_through_the_kit_in_its_own_session(
    stack: ProxyStack, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": stack.proxy.url,
        "ANTHROPIC_AUTH_TOKEN": DEVELOPER.key,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "ANTHROPIC_MODEL": SONNET,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-haiku-4-5",
    }
    earlier = len(stack.records())
    # Without tools: the stand-in calls the first tool it is offered, and Claude Code's
    # first tool (Agent) would start subagents without end.
    finished = subprocess.run(
        [os.environ[CLAUDE_BIN_VARIABLE], "-p", "Say hi", "--output-format", "json", "--tools", ""],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-2000:]
    answer = json.loads(finished.stdout)
    assert answer["result"].startswith("Hello from us.anthropic.claude-sonnet-4-6.")
    records = _records_after(stack, earlier)
    assert {r["user_agent"].split("/")[0] for r in records} == {"claude-cli"}
    assert {r["session_id"] for r in records} == {answer["session_id"]}


def _records_after(stack: ProxyStack, earlier: int) -> list[dict[str, Any]]:
    """The callback records written after the first `earlier`, once there is one."""
    deadline = time.monotonic() + RECORD_WAIT_S
    while len(stack.records()) <= earlier and time.monotonic() < deadline:
        time.sleep(0.1)
    return stack.records()[earlier:]
