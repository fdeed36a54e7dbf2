"""OpenAI Codex CLI's Responses API turns through the real proxy to the Claude routes.

The request shapes are Codex 0.171.0's own (codex_requests.py); LiteLLM bridges
`/v1/responses` to Bedrock Converse. An opt-in test runs the real binary
(`LLMOPS_TEST_CODEX_BIN=/path/to/codex`, HOME in a temporary folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from callbacks.mapping import client_name
from tests.integration import codex_requests as codex
from tests.integration.conftest import DEVELOPER, ProxyStack

pytestmark = pytest.mark.integration

SONNET = "claude-sonnet-4-6"
CODEX_BIN_VARIABLE = "LLMOPS_TEST_CODEX_BIN"


def respond(stack: ProxyStack, session_id: str, items: list[dict[str, Any]]) -> tuple[str, dict]:
    """One streamed Codex turn: LiteLLM's call id and the `response.completed` response."""
    response = httpx.post(
        f"{stack.proxy.url}/v1/responses",
        headers=codex.headers(DEVELOPER.key, session_id),
        json=codex.body(SONNET, session_id, items),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    events = [
        json.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    (completed,) = [e["response"] for e in events if e.get("type") == "response.completed"]
    return response.headers["x-litellm-call-id"], completed


def output_items(response: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [item for item in response["output"] if item["type"] == kind]


def test_codex_tool_loop_runs_on_a_claude_route(stack: ProxyStack) -> None:
    session_id = str(uuid.uuid4())
    history = codex.first_input("List the files here.")

    _, first = respond(stack, session_id, history)
    (call,) = output_items(first, "function_call")
    assert call["name"] == "exec_command"
    said = output_items(first, "message")[0]["content"][0]["text"]

    _, second = respond(
        stack, session_id, codex.tool_turn_input(history, call, said, "README.md\n")
    )

    (message,) = output_items(second, "message")
    assert message["content"][0]["text"].endswith("The tool returned: README.md")
    assert second["usage"]["input_tokens"] > 0
    calls = stack.bedrock.calls()
    assert [c["model_id"] for c in calls] == ["us.anthropic.claude-sonnet-4-6"] * 2
    # Codex's developer messages became Bedrock's system prompt; the sub-agent namespace
    # became plain tools; web_search, which Bedrock lacks, was left out.
    tools = [t["toolSpec"]["name"] for t in calls[0]["request"]["toolConfig"]["tools"]]
    assert tools == ["exec_command", "multi_agent_v1__spawn_agent"]
    assert codex.AGENT_PROMPT in calls[0]["request"]["system"][0]["text"]


def test_codex_turns_reach_the_callbacks_with_its_session_user_and_client(
    stack: ProxyStack,
) -> None:
    session_id = str(uuid.uuid4())
    call_id, _ = respond(stack, session_id, codex.first_input("Say hi"))

    record = stack.wait_for_record(call_id)
    assert record["call_type"] == "aresponses"
    assert record["session_id"] == session_id
    assert record["metadata"]["user_api_key_user_id"] == DEVELOPER.user
    assert client_name(record["user_agent"]) == "codex"


@pytest.mark.skipif(
    not (os.environ.get(CODEX_BIN_VARIABLE) and shutil.which(os.environ[CODEX_BIN_VARIABLE])),
    reason=f"set {CODEX_BIN_VARIABLE} to a Codex CLI binary to run it against the proxy",
)
def test_the_real_codex_cli_answers_through_the_kit(stack: ProxyStack, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(
        f'model = "{SONNET}"\n'
        'model_provider = "llmops"\n\n'
        "[model_providers.llmops]\n"
        'name = "LLMOps kit"\n'
        f'base_url = "{stack.proxy.openai_url}"\n'
        'env_key = "LLMOPS_API_KEY"\n'
        'wire_api = "responses"\n',
        encoding="utf-8",
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LLMOPS_API_KEY": DEVELOPER.key,
    }
    finished = subprocess.run(
        [os.environ[CODEX_BIN_VARIABLE], "exec", "--skip-git-repo-check", "Say hi"],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "Hello from us.anthropic.claude-sonnet-4-6." in finished.stdout
    user_agents = {client_name(r["user_agent"]) for r in stack.records() if r}
    assert "codex" in user_agents
