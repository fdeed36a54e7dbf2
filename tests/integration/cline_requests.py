"""Chat-completion requests shaped as Cline sends them to a LiteLLM proxy.

Two shapes (see ../shared/DESIGN.md, "Cline"):
- the VS Code extension's LiteLLM provider (src/core/api/providers/litellm.ts): system prompt
  as one text part with cache_control, cache_control on the last part of the last two user
  messages, `litellm_session_id: "cline-<task id>"`, `thinking` when a budget is set,
  `drop_params`, streaming with usage;
- Cline CLI 3.x: plain OpenAI-compatible, a large system prompt, 25 native tools, streaming
  with `stream_options.include_usage`, no session id.
"""

from __future__ import annotations

from typing import Any

CACHE_CONTROL = {"type": "ephemeral"}
SYSTEM_PROMPT = (
    "You are Cline, a highly skilled software engineer with extensive knowledge in many "
    "programming languages, frameworks, design patterns, and best practices. "
) * 40
CLINE_TOOL_NAMES = (
    "execute_command",
    "read_file",
    "write_to_file",
    "replace_in_file",
    "search_files",
    "list_files",
    "list_code_definition_names",
    "browser_action",
    "use_mcp_tool",
    "access_mcp_resource",
    "ask_followup_question",
    "attempt_completion",
    "new_task",
    "plan_mode_respond",
    "load_mcp_documentation",
    "web_fetch",
    "condense",
    "summarize_task",
    "report_bug",
    "new_rule",
    "focus_chain",
    "apply_patch",
    "generate_explanation",
    "use_skill",
    "web_search",
)


def cline_tools() -> list[dict[str, Any]]:
    """25 function tools, each with a required string argument, as Cline CLI declares them."""
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": f"Cline's {name.replace('_', ' ')} tool.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "target": {"type": "string", "description": "What the tool acts on."},
                        "requires_approval": {"type": "boolean"},
                    },
                    "required": ["target"],
                },
            },
        }
        for name in CLINE_TOOL_NAMES
    ]


def cli_request(model: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Keyword arguments for `chat.completions.create`, as Cline CLI 3.x sends them."""
    return {
        "model": model,
        "messages": [{"role": "system", "content": SYSTEM_PROMPT}, *messages],
        "tools": cline_tools(),
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def _with_cache_control(message: dict[str, Any]) -> dict[str, Any]:
    content = message["content"]
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    parts[-1] = {**parts[-1], "cache_control": CACHE_CONTROL}
    return {**message, "content": parts}


def extension_request(
    model: str,
    messages: list[dict[str, Any]],
    *,
    task_id: str,
    thinking_budget: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `chat.completions.create`, as the VS Code LiteLLM provider sends
    them (its extra fields go in `extra_body`)."""
    user_indexes = [i for i, m in enumerate(messages) if m["role"] == "user"][-2:]
    enhanced = [_with_cache_control(m) if i in user_indexes else m for i, m in enumerate(messages)]
    system = {
        "role": "system",
        "content": [{"type": "text", "text": SYSTEM_PROMPT, "cache_control": CACHE_CONTROL}],
    }
    extra_body: dict[str, Any] = {"drop_params": True, "litellm_session_id": f"cline-{task_id}"}
    if thinking_budget:
        extra_body["thinking"] = {"type": "enabled", "budget_tokens": thinking_budget}
    request: dict[str, Any] = {
        "model": model,
        "messages": [system, *enhanced],
        "stream": True,
        "stream_options": {"include_usage": True},
        "extra_body": extra_body,
    }
    if not thinking_budget:
        request["temperature"] = 1
    return request
