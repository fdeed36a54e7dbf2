"""What Bedrock refuses before a model runs: unknown model ids and malformed conversations.

The thinking rule is Anthropic's, passed through by Bedrock: with thinking enabled, the final
assistant message, when it holds a toolUse block (the tool loop still open), must start with a
reasoningContent block, or the call fails with a 400 naming that message. Earlier assistant
turns may drop their reasoning, as with the real API.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from . import errors
from .errors import Rejected

# `[us.|eu.|apac.|global.|...]anthropic.claude-<name>[:<version>]`
_CLAUDE_MODEL_ID = re.compile(
    r"(?:[a-z]{2,6}(?:-[a-z]+)?\.)?anthropic\.claude-[a-z0-9][a-z0-9.-]*(?::[0-9]+)?"
)
_ANTHROPIC_BLOCK_TYPES = {
    "text": "text",
    "toolUse": "tool_use",
    "toolResult": "tool_result",
    "image": "image",
    "document": "document",
}


def check_model(model_id: str, known_models: Collection[str] | None) -> None:
    """Accept the configured ids, or by default anything shaped like a Claude model id."""
    known = model_id in known_models if known_models else _CLAUDE_MODEL_ID.fullmatch(model_id)
    if not known:
        raise Rejected(errors.INVALID_MODEL)


def parse_body(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        raise Rejected(errors.MALFORMED_BODY) from None
    if not isinstance(parsed, dict):
        raise Rejected(errors.MALFORMED_BODY)
    return parsed


def thinking_enabled(request: Mapping[str, Any]) -> bool:
    """Claude's `thinking` (enabled or adaptive) or Nova's `reasoningConfig`, as LiteLLM sends
    them in additionalModelRequestFields."""
    fields = request.get("additionalModelRequestFields") or {}
    return any(
        isinstance(fields.get(key), Mapping) and fields[key].get("type") in ("enabled", "adaptive")
        for key in ("thinking", "reasoningConfig")
    )


def check_conversation(request: Mapping[str, Any]) -> None:
    messages = request.get("messages") or []
    if not messages or messages[0].get("role") != "user":
        raise Rejected(errors.MUST_START_WITH_USER)
    roles = [message.get("role") for message in messages]
    if any(first == second for first, second in itertools.pairwise(roles)):
        raise Rejected(errors.MUST_ALTERNATE)
    if thinking_enabled(request):
        _check_final_assistant_starts_with_thinking(messages)


def _check_final_assistant_starts_with_thinking(messages: list[Mapping[str, Any]]) -> None:
    index = max(
        (i for i, message in enumerate(messages) if message.get("role") == "assistant"),
        default=None,
    )
    if index is None:
        return
    blocks = [block for block in messages[index].get("content", []) if "cachePoint" not in block]
    if not any("toolUse" in block for block in blocks) or "reasoningContent" in blocks[0]:
        return
    found = next((name for key, name in _ANTHROPIC_BLOCK_TYPES.items() if key in blocks[0]), "")
    raise Rejected(
        errors.validation(errors.THINKING_BLOCK_REQUIRED.format(index=index, found=found))
    )
