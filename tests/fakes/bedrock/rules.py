"""What Bedrock refuses before a model runs: unknown model ids and malformed conversations.

The thinking rules are Anthropic's, passed through by Bedrock:
- with thinking enabled, the final assistant message, when it holds a toolUse block (the
  tool loop still open), must start with a reasoningContent block, or the call fails with a
  400 naming that message. Earlier assistant turns may drop their reasoning;
- every reasoning block sent back must carry the signature it was issued with, unchanged
  (`sign_reasoning` of its text): a missing signature or an edited text is a 400.
"""

from __future__ import annotations

import base64
import hashlib
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


_SIGNING_SALT = b"bedrock-stand-in reasoning signature\n"


def sign_reasoning(text: str) -> str:
    """The signature the stand-in issues for a reasoning text (any model: a conversation
    may move to a fallback route and keep its thinking blocks)."""
    digest = hashlib.sha256(_SIGNING_SALT + text.encode("utf-8")).digest()
    return base64.b64encode(digest * 4).decode("ascii")


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
    _check_reasoning_signatures(messages)
    if thinking_enabled(request):
        _check_final_assistant_starts_with_thinking(messages)


def _check_reasoning_signatures(messages: list[Mapping[str, Any]]) -> None:
    for index, message in enumerate(messages):
        for position, block in enumerate(message.get("content", [])):
            reasoning = (block.get("reasoningContent") or {}).get("reasoningText")
            if reasoning is None:
                continue
            where = f"messages.{index}.content.{position}"
            if not reasoning.get("signature"):
                raise Rejected(errors.validation(errors.SIGNATURE_REQUIRED.format(where=where)))
            if reasoning["signature"] != sign_reasoning(reasoning.get("text", "")):
                raise Rejected(errors.validation(errors.SIGNATURE_INVALID.format(where=where)))


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
