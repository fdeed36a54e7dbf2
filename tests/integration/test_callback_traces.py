"""Through the real proxy: what a request becomes in Langfuse, field by field.

One proxy for the module (requests here all succeed, so no route cools down). Traces are
read back through the Langfuse stand-in's public read API, the way users and `doctor` see them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from tests.fakes.bedrock.harness import running_bedrock
from tests.fakes.langfuse.harness import running_langfuse
from tests.integration import claude_code_requests as claude_code
from tests.integration import codex_requests as codex
from tests.integration.callback_stack import (
    USER,
    USER_KEY,
    CallbackStack,
    open_callback_stack,
    price_map,
    trace_id,
)
from tests.integration.cline_requests import CACHE_CONTROL, SYSTEM_PROMPT

pytestmark = pytest.mark.integration

MODEL = "claude-sonnet-4-6"
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-6"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbackStack]:
    work_dir = tmp_path_factory.mktemp("callback-traces")
    with (
        running_bedrock() as bedrock,
        running_langfuse() as langfuse,
        open_callback_stack(work_dir, bedrock, langfuse, {"LLMOPS_LOG_INPUT": "delta"}) as opened,
    ):
        yield opened


def text(content: str, cached: bool = False) -> dict:
    part: dict = {"type": "text", "text": content}
    if cached:
        part["cache_control"] = CACHE_CONTROL
    return part


def cline_task(task: str, turns: int) -> list[list[dict]]:
    """The message lists of a Cline task: system prompt and history resent every turn,
    cache_control on the system prompt and the last two user messages."""
    system = {"role": "system", "content": [text(SYSTEM_PROMPT, cached=True)]}
    history: list[dict] = [{"role": "user", "content": [text(f"<task>\n{task}\n</task>")]}]
    tool_result = "[read_file] Result:\n" + "line\n" * 50
    requests = []
    for turn in range(turns):
        messages = [system, *json.loads(json.dumps(history))]
        for message in [m for m in messages if m["role"] == "user"][-2:]:
            message["content"][-1]["cache_control"] = CACHE_CONTROL
        requests.append(messages)
        history += [
            {"role": "assistant", "content": f"Step {turn}: reading the code."},
            {"role": "user", "content": [text(tool_result)]},
        ]
    return requests


def test_a_request_is_one_trace_with_every_field(stack: CallbackStack) -> None:
    messages = [{"role": "user", "content": "What is 2 + 2?"}]
    call_id, answer = stack.chat(MODEL, messages, temperature=0.2, max_tokens=100)
    root, generation = stack.trace(call_id)
    call = stack.bedrock.calls()[-1]

    for observation in (root, generation):
        assert observation["traceId"] == trace_id(call_id)
        assert observation["traceName"] == f"cline / {MODEL}"
        assert observation["userId"] == USER
        assert observation["sessionId"].startswith("auto-")
        assert observation["environment"] == "ci"
        assert observation["tags"] == ["cline", MODEL, "ci"]
    assert (root["type"], root["name"], root["parentObservationId"]) == (
        "SPAN",
        f"cline / {MODEL}",
        None,
    )
    assert generation["type"] == "GENERATION"
    assert generation["parentObservationId"] == root["id"]
    assert generation["name"] == MODEL
    assert generation["model"] == BEDROCK_MODEL
    # Langfuse keeps strings and numbers; other values as their JSON text.
    assert generation["modelParameters"] == {
        "temperature": 0.2,
        "max_tokens": 100,
        "stream": "false",
    }
    assert json.loads(generation["input"]) == messages
    assert json.loads(generation["output"])["content"] == answer
    assert generation["usageDetails"] == {
        "input": call["usage"]["inputTokens"],
        "output": call["usage"]["outputTokens"],
        "total": call["usage"]["totalTokens"],
    }
    prices = price_map()[BEDROCK_MODEL]
    assert generation["costDetails"]["total"] == pytest.approx(
        call["usage"]["inputTokens"] * prices["input_cost_per_token"]
        + call["usage"]["outputTokens"] * prices["output_cost_per_token"],
        abs=2e-12,
    )
    assert generation["level"] == "DEFAULT"
    assert generation["latency"] > 0
    assert generation["metadata"]["model_group"] == MODEL
    assert root["startTime"] <= generation["startTime"] <= generation["endTime"] <= root["endTime"]


def test_a_streamed_answer_has_its_first_token_time(stack: CallbackStack) -> None:
    messages = [{"role": "user", "content": "Tell me a story."}]
    call_id, _ = stack.chat(MODEL, messages, stream=True)
    generation = stack.trace(call_id)[1]
    first_token = datetime.fromisoformat(generation["completionStartTime"])
    assert datetime.fromisoformat(generation["startTime"]) <= first_token
    assert first_token <= datetime.fromisoformat(generation["endTime"])
    assert generation["timeToFirstToken"] is not None


def test_costs_with_cache_reads_and_writes_are_exact(stack: CallbackStack) -> None:
    first, second = cline_task("Add a --verbose flag to src/cli.py", 2)
    stack.chat(MODEL, first, stream=True)
    second[-1]["content"].append(text("<environment_details>\nTime: 10:00\n</environment_details>"))
    call_id, _ = stack.chat(MODEL, second, stream=True)
    usage = stack.bedrock.calls()[-1]["usage"]
    assert usage["inputTokens"] and usage["cacheReadInputTokens"] and usage["cacheWriteInputTokens"]
    generation = stack.trace(call_id)[1]
    prices = price_map()[BEDROCK_MODEL]
    assert generation["usageDetails"] == {
        "input": usage["inputTokens"],
        "output": usage["outputTokens"],
        "cache_read_input_tokens": usage["cacheReadInputTokens"],
        "cache_creation_input_tokens": usage["cacheWriteInputTokens"],
        "total": usage["totalTokens"],
    }
    expected = {
        "input": usage["inputTokens"] * prices["input_cost_per_token"],
        "output": usage["outputTokens"] * prices["output_cost_per_token"],
        "cache_read_input_tokens": usage["cacheReadInputTokens"]
        * prices["cache_read_input_token_cost"],
        "cache_creation_input_tokens": usage["cacheWriteInputTokens"]
        * prices["cache_creation_input_token_cost"],
    }
    expected["total"] = sum(expected.values())
    assert generation["costDetails"] == pytest.approx(expected, abs=2e-12)


def test_the_turns_of_a_task_land_in_one_session_and_two_tasks_in_two(
    stack: CallbackStack,
) -> None:
    sessions = []
    for task in ("Fix the failing test in tests/test_cli.py", "Write the release notes"):
        call_ids = [stack.chat(MODEL, turn, stream=True)[0] for turn in cline_task(task, 3)]
        found = {o["sessionId"] for call_id in call_ids for o in stack.trace(call_id)}
        assert len(found) == 1
        session = found.pop()
        in_session = stack.langfuse.observations(session_id=session, type="GENERATION")
        assert {o["traceId"] for o in in_session} == {trace_id(c) for c in call_ids}
        sessions.append(session)
    assert sessions[0] != sessions[1]


def test_delta_mode_logs_each_turn_only_once(stack: CallbackStack) -> None:
    turns = cline_task("Rename the config module", 3)
    call_ids = [stack.chat(MODEL, turn, stream=True)[0] for turn in turns]
    logged = [json.loads(stack.trace(c)[1]["input"]) for c in call_ids]
    assert len(logged[0]) == len(turns[0])
    assert [m["role"] for m in logged[1]] == ["assistant", "user"]
    assert [m["role"] for m in logged[2]] == ["assistant", "user"]


def test_spool_health_counts_the_deliveries(stack: CallbackStack) -> None:
    stack.chat(MODEL, [{"role": "user", "content": "ping"}])
    health = stack.wait_until_delivered()
    assert health["delivered"] >= 2
    assert health["export_failures"] == 0
    assert health["last_error"] is None


def test_a_claude_code_subagent_is_tagged_in_claude_codes_own_session(
    stack: CallbackStack,
) -> None:
    session_id = str(uuid.uuid4())
    sent = claude_code.headers(USER_KEY, session_id, agent_id="a039f7b3", parent_agent_id="a5ef")
    body = claude_code.body(MODEL, session_id, [claude_code.user_turn("hi")], stream=False)
    response = httpx.post(
        f"{stack.proxy.url}/v1/messages?beta=true", headers=sent, json=body, timeout=60
    )
    assert response.status_code == 200, response.text

    root, generation = stack.trace(response.headers["x-litellm-call-id"])

    for observation in (root, generation):
        assert observation["traceName"] == f"claude-cli / {MODEL}"
        assert observation["sessionId"] == session_id
        assert observation["userId"] == USER
        assert observation["tags"] == ["claude-cli", MODEL, "ci", "subagent"]
    assert root["metadata"]["agent_id"] == "a039f7b3"
    assert root["metadata"]["parent_agent_id"] == "a5ef"


def test_a_codex_turn_is_traced_as_codex_in_its_session(stack: CallbackStack) -> None:
    session_id = str(uuid.uuid4())
    response = httpx.post(
        f"{stack.proxy.url}/v1/responses",
        headers=codex.headers(USER_KEY, session_id),
        json=codex.body(MODEL, session_id, codex.first_input("Say hi")),
        timeout=60,
    )
    assert response.status_code == 200, response.text

    root, generation = stack.trace(response.headers["x-litellm-call-id"])

    for observation in (root, generation):
        assert observation["traceName"] == f"codex / {MODEL}"
        assert observation["sessionId"] == session_id
        assert observation["userId"] == USER
        assert observation["tags"] == ["codex", MODEL, "ci"]
    assert generation["model"] == BEDROCK_MODEL


def test_a_tier_name_keeps_the_name_asked_for_and_the_group_that_served_it(
    stack: CallbackStack,
) -> None:
    call_id, _ = stack.chat("sonnet", [{"role": "user", "content": "Which model are you?"}])
    root, generation = stack.trace(call_id)

    assert root["name"] == "cline / sonnet"
    assert "sonnet" in root["tags"]
    assert generation["metadata"]["model_group"] == "claude-sonnet-5-5"
    assert generation["model"] == "us.anthropic.claude-sonnet-5-5"
    assert stack.bedrock.calls()[-1]["model_id"] == "us.anthropic.claude-sonnet-5-5"
