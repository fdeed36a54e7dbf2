"""Cline- and Claude Code-shaped requests of a chosen size: what the proxy and the callback carry.

Cline sends a large system prompt, about 25 tools, and the whole task history every turn:
file contents read by tools, command output, the assistant's tool calls. The request built
here has the same parts, in OpenAI chat format, with a few secrets of the kinds the callback
redacts inside tool results, so redaction does real work. The conversation ends with a tool
result, as most of Cline's turns do (the Bedrock stand-in then answers with text). The
Claude Code request (Messages API) has the same history in Anthropic blocks around Claude
Code's own system blocks, tools and thinking settings. Deterministic: the same size gives the
same bytes.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.bedrock.replies import REASONING_TEXT
from tests.fakes.bedrock.rules import sign_reasoning
from tests.integration import claude_code_requests as claude_code

MODEL_GROUP = "claude-sonnet-4-6"
DEFAULT_PROMPT_KB = 100
TOOL_COUNT = 25
MAX_TOKENS = 256
SESSION_ID = "bench-session"

_SYSTEM_PARAGRAPH = (
    "You are Cline, a highly skilled software engineer with extensive knowledge in many "
    "programming languages, frameworks, design patterns, and best practices. You use tools "
    "one at a time, wait for each result, and never assume the outcome of a tool call. "
)
_SOURCE_LINES = (
    "def load_settings(path: Path) -> dict[str, str]:\n"
    '    """Read KEY=VALUE lines; the process environment wins."""\n'
    "    values = {}\n"
    "    for line in path.read_text().splitlines():\n"
    "        key, _, value = line.partition('=')\n"
    "        values[key.strip()] = value.strip()\n"
    "    return values\n\n"
)
# Fake secrets, shaped like real ones, that the callback's redaction must catch.
_SECRETS = (
    "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"
    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    "GITHUB_TOKEN=ghp_1234567890abcdefghijklmnopqrstuvwxyzAB\n"
    "DATABASE_URL=postgresql://app:s3cr3t-passw0rd@db.internal:5432/app\n"
)


def tools(count: int = TOOL_COUNT) -> list[dict[str, Any]]:
    """Tool definitions shaped like Cline's: a name, a long description, a JSON schema."""
    return [
        {
            "type": "function",
            "function": {
                "name": f"tool_{index:02d}",
                "description": (
                    f"Tool {index}: reads or changes the workspace. " + _SYSTEM_PARAGRAPH
                )
                * 2,
                "parameters": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string", "description": "Path relative to the cwd."},
                        "content": {"type": "string", "description": "Full new content."},
                    },
                    "required": ["path"],
                },
            },
        }
        for index in range(count)
    ]


def _tool_turn(index: int, result: str) -> list[dict[str, Any]]:
    call_id = f"toolu_{index:04d}"
    return [
        {
            "role": "assistant",
            "content": f"Reading file {index}.",
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": "tool_00", "arguments": json.dumps({"path": f"f{index}"})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": result},
    ]


def chat_request(prompt_kb: int = DEFAULT_PROMPT_KB, *, stream: bool = False) -> dict[str, Any]:
    """An OpenAI chat request whose JSON body is about `prompt_kb` KB."""
    system = _SYSTEM_PARAGRAPH * 40
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": "<task>Fix the settings loader.</task>"},
    ]
    request: dict[str, Any] = {
        "model": MODEL_GROUP,
        "messages": messages,
        "tools": tools(),
        "max_tokens": MAX_TOKENS,
        "stream": stream,
    }
    if stream:
        request["stream_options"] = {"include_usage": True}
    target = prompt_kb * 1024
    turn = 0
    while len(json.dumps(request)) < target:
        result = _SECRETS + _SOURCE_LINES * 8 if turn % 4 == 0 else _SOURCE_LINES * 10
        messages += _tool_turn(turn, result)
        turn += 1
    if turn == 0:
        messages += _tool_turn(0, _SECRETS)
    return request


def chat_body(prompt_kb: int = DEFAULT_PROMPT_KB, *, stream: bool = False) -> bytes:
    return json.dumps(chat_request(prompt_kb, stream=stream)).encode()


def messages_request(prompt_kb: int = DEFAULT_PROMPT_KB, *, stream: bool = True) -> dict[str, Any]:
    """A Claude Code-shaped Messages API request (`POST /v1/messages`) of about `prompt_kb` KB:
    Claude Code's own system blocks, tools, thinking and effort settings (the captured shape in
    tests/integration/claude_code_requests.py), then Read tool calls and their results. Each
    assistant turn starts with its signed thinking block, as Claude Code sends it back (the
    Bedrock stand-in's own, so it checks); without one LiteLLM would turn thinking off."""
    messages: list[dict[str, Any]] = [claude_code.user_turn("Fix the settings loader.")]
    request = claude_code.body(MODEL_GROUP, SESSION_ID, messages, stream=stream)
    user_id = {"device_id": "0" * 64, "account_uuid": "", "session_id": SESSION_ID}
    request["metadata"] = {"user_id": json.dumps(user_id, separators=(",", ":"))}
    thinking = {
        "type": "thinking",
        "thinking": REASONING_TEXT,
        "signature": sign_reasoning(REASONING_TEXT),
    }
    turn = 0
    while len(json.dumps(request)) < prompt_kb * 1024:
        result = _SECRETS + _SOURCE_LINES * 8 if turn % 4 == 0 else _SOURCE_LINES * 10
        call_id = f"toolu_{turn:04d}"
        messages += [
            {
                "role": "assistant",
                "content": [
                    thinking,
                    {"type": "text", "text": f"Reading file {turn}."},
                    {
                        "type": "tool_use",
                        "id": call_id,
                        "name": "Read",
                        "input": {"file_path": f"/work/f{turn}.py"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call_id, "content": result}],
            },
        ]
        turn += 1
    return request


def messages_body(prompt_kb: int = DEFAULT_PROMPT_KB, *, stream: bool = True) -> bytes:
    return json.dumps(messages_request(prompt_kb, stream=stream)).encode()
