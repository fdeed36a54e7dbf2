"""Requests shaped as OpenAI Codex CLI 0.171.0 sends them to a Responses API provider.

Captured here from the real CLI (npm `@openai/codex@0.171.0`, `codex exec`, a
`[model_providers.<name>]` entry with `base_url = ".../v1"`, `env_key`, `wire_api =
"responses"`) through the kit's proxy. Every turn is `POST /v1/responses`, streamed, with:
- headers: `user-agent: codex_exec/0.171.0 (...)` (`codex_cli_rs/...` from the interactive
  CLI), `originator: codex_exec`, `session-id` and `thread-id` (the session), a JSON
  `x-codex-turn-metadata`, `x-client-request-id`;
- body: `input` as items (two developer messages: the agent prompt and skills, a user message
  with `<environment_context>`, the user's prompt; later turns add the `function_call`, the
  assistant message and the `function_call_output`), `tools` (function tools, a `namespace`
  of sub-agent tools, `web_search`), `tool_choice: auto`, `parallel_tool_calls: true`,
  `reasoning: {summary: auto}` (plus `effort` when set), `store: false`,
  `include: [reasoning.encrypted_content]`, `prompt_cache_key` and `client_metadata`
  (both carry the session id), `stream: true`.
Long texts are shortened here.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

CODEX_VERSION = "0.171.0"
USER_AGENT = (
    f"codex_exec/{CODEX_VERSION} (Debian 12.0.0; x86_64) unknown (codex_exec; {CODEX_VERSION})"
)
AGENT_PROMPT = (
    "You are a coding agent running in the Codex CLI, a terminal-based coding assistant. "
) * 40
EXEC_COMMAND = {
    "type": "function",
    "name": "exec_command",
    "description": "Runs a command in a PTY, returning output or a session ID.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "cmd": {"type": "string", "description": "Shell command to execute."},
            "workdir": {"type": "string"},
            "max_output_tokens": {"type": "number"},
        },
        "required": ["cmd"],
        "additionalProperties": False,
    },
}
SUB_AGENTS = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Tools for spawning and managing sub-agents.",
    "tools": [
        {
            "type": "function",
            "name": "spawn_agent",
            "description": "Spawn a sub-agent.",
            "strict": False,
            "parameters": {
                "type": "object",
                "properties": {"message": {"type": "string"}},
                "required": ["message"],
                "additionalProperties": False,
            },
        }
    ],
}
WEB_SEARCH = {"type": "web_search", "external_web_access": False}


def headers(token: str, session_id: str) -> dict[str, str]:
    turn = {"session_id": session_id, "thread_id": session_id, "request_kind": "turn"}
    return {
        "authorization": f"Bearer {token}",
        "user-agent": USER_AGENT,
        "originator": "codex_exec",
        "accept": "text/event-stream",
        "session-id": session_id,
        "thread-id": session_id,
        "x-client-request-id": session_id,
        "x-codex-window-id": f"{session_id}:0",
        "x-codex-turn-metadata": json.dumps(turn),
    }


def _message(role: str, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"msg_{uuid.uuid4()}",
        "role": role,
        "content": [{"type": "input_text", "text": text}],
    }


def first_input(prompt: str) -> list[dict[str, Any]]:
    return [
        _message("developer", AGENT_PROMPT),
        _message("developer", "<skills_instructions>\n## Skills\n</skills_instructions>"),
        _message("user", "<environment_context>\n  <cwd>/work</cwd>\n</environment_context>"),
        _message("user", prompt),
    ]


def tool_turn_input(
    history: list[dict[str, Any]], call: dict[str, Any], said: str, output: str
) -> list[dict[str, Any]]:
    """The next turn's input as Codex orders it: the call, the assistant text, the output."""
    function_call = {
        "type": "function_call",
        "status": "completed",
        "id": call["id"],
        "name": call["name"],
        "arguments": call["arguments"],
        "call_id": call["call_id"],
    }
    assistant = {
        "type": "message",
        "status": "completed",
        "id": f"msg_{uuid.uuid4()}",
        "role": "assistant",
        "content": [{"type": "output_text", "text": said, "annotations": []}],
    }
    result = {
        "type": "function_call_output",
        "id": f"fco_{uuid.uuid4()}",
        "call_id": call["call_id"],
        "output": output,
    }
    return [*history, function_call, assistant, result]


def body(model: str, session_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "model": model,
        "stream": True,
        "input": items,
        "tools": [EXEC_COMMAND, SUB_AGENTS, WEB_SEARCH],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": session_id,
        "client_metadata": {"session_id": session_id, "thread_id": session_id},
    }
