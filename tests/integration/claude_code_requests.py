"""Requests shaped as Claude Code 2.1.328 sends them to a gateway (`ANTHROPIC_BASE_URL`).

Captured here from the real CLI (npm `@anthropic-ai/claude-code@2.1.328`, native binary,
`claude -p`, `ANTHROPIC_AUTH_TOKEN`, `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`) through the
kit's proxy. Every request is `POST /v1/messages?beta=true`, streamed, with:
- headers: `user-agent: claude-cli/2.1.328 (external, sdk-cli)`, `x-app: cli`,
  `anthropic-version`, the `anthropic-beta` list below, `x-claude-code-session-id`; a
  subagent's requests add `x-claude-code-agent-id` and, when another subagent started it,
  `x-claude-code-parent-agent-id` (the main agent's requests carry neither);
- body: three system blocks (a billing line, the SDK line, the ~28k-character prompt; the last
  two with cache_control), twelve tools (Agent, Bash, Edit, ..., Write, one with
  `defer_loading`), the user turn as system-reminder text blocks then the prompt with
  cache_control, `metadata.user_id` (a JSON string with device id and session id),
  `thinking: {type: adaptive, display: omitted}`, `context_management` (clear_thinking),
  `output_config: {effort: high}`, `max_tokens: 32000`, `stream: true`.
Long texts are shortened here; tool schemas are Claude Code's own.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

CLAUDE_CODE_VERSION = "2.1.328"
USER_AGENT = f"claude-cli/{CLAUDE_CODE_VERSION} (external, sdk-cli)"
BETAS = (
    "claude-code-20250219",
    "interleaved-thinking-2025-05-14",
    "context-management-2025-06-27",
    "thinking-token-count-2026-05-13",
    "advanced-tool-use-2025-11-20",
    "effort-2025-11-24",
)
CACHE_CONTROL = {"type": "ephemeral"}
SYSTEM_PROMPT = (
    "\nYou are an agent working with the user toward their goals, using your own judgment "
    "along the way. Use the instructions below and the tools available to you to assist the "
    "user.\n"
) * 60
_STRING = {"type": "string"}
READ_TOOL = {
    "name": "Read",
    "description": "Reads a file from the local filesystem.",
    "input_schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "file_path": {"description": "The absolute path to the file to read", **_STRING},
            "offset": {"type": "integer", "minimum": 0, "maximum": 9007199254740991},
            "limit": {"type": "integer", "exclusiveMinimum": 0, "maximum": 9007199254740991},
            "pages": _STRING,
            "allow_large": {"type": "boolean"},
        },
        "required": ["file_path"],
        "additionalProperties": False,
    },
}
BASH_TOOL = {
    "name": "Bash",
    "description": "Executes a given bash command and returns its output.",
    "input_schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "command": {"description": "The command to execute", **_STRING},
            "timeout": {"type": "number"},
            "description": _STRING,
            "run_in_background": {"type": "boolean"},
            "dangerouslyDisableSandbox": {"type": "boolean"},
        },
        "required": ["command"],
        "additionalProperties": False,
    },
}
DEFERRED_TOOL = {
    "name": "DeferredToolPlaceholder",
    "description": "Placeholder for tools loaded through ToolSearch.",
    "input_schema": {"type": "object", "properties": {}},
    "defer_loading": True,
}


def headers(
    token: str,
    session_id: str,
    *,
    agent_id: str | None = None,
    parent_agent_id: str | None = None,
    betas: tuple[str, ...] = BETAS,
) -> dict[str, str]:
    sent = {
        "authorization": f"Bearer {token}",
        "user-agent": USER_AGENT,
        "x-app": "cli",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": ",".join(betas),
        "anthropic-dangerous-direct-browser-access": "true",
        "x-claude-code-session-id": session_id,
        "x-stainless-lang": "js",
        "x-stainless-retry-count": "0",
    }
    if agent_id:
        sent["x-claude-code-agent-id"] = agent_id
    if parent_agent_id:
        sent["x-claude-code-parent-agent-id"] = parent_agent_id
    return sent


def user_turn(prompt: str) -> dict[str, Any]:
    reminder = (
        "<system-reminder>\nYou are powered by the model named Sonnet 4.6.\n</system-reminder>"
    )
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": reminder},
            {"type": "text", "text": prompt, "cache_control": CACHE_CONTROL},
        ],
    }


def body(
    model: str,
    session_id: str,
    messages: list[dict[str, Any]],
    *,
    tools: tuple[dict[str, Any], ...] = (READ_TOOL, BASH_TOOL, DEFERRED_TOOL),
    stream: bool = True,
) -> dict[str, Any]:
    user_id = {"device_id": uuid.uuid4().hex * 2, "account_uuid": "", "session_id": session_id}
    return {
        "model": model,
        "messages": messages,
        "system": [
            {
                "type": "text",
                "text": f"x-anthropic-billing-header: cc_version={CLAUDE_CODE_VERSION}.593; "
                "cc_entrypoint=sdk-cli;",
            },
            {
                "type": "text",
                "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK.",
                "cache_control": CACHE_CONTROL,
            },
            {"type": "text", "text": SYSTEM_PROMPT, "cache_control": CACHE_CONTROL},
        ],
        "tools": list(tools),
        "metadata": {"user_id": json.dumps(user_id, separators=(",", ":"))},
        "max_tokens": 32000,
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "stream": stream,
    }


def count_tokens_body(model: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """A Messages API count_tokens body holding Claude Code's prompt (system, tools, turns);
    the captured `claude -p` runs themselves sent no count_tokens request."""
    full = body(model, "count", messages)
    return {key: full[key] for key in ("model", "messages", "system", "tools")}
