"""What the stand-in model answers: a deterministic function of the model id and the request.

- Thinking enabled (see rules.thinking_enabled): a reasoningContent block comes first, with
  REASONING_TEXT and its signature (rules.sign_reasoning), which later turns must send back.
- Tools given and the last user message holds text but no toolResult: the text
  "Calling <tool>." then a toolUse of the first tool, input filled from its schema's
  required properties; stopReason tool_use.
- Otherwise one text block, "Hello from <model id>. You said: <snippet>" (or "The tool
  returned: <snippet>" after a toolResult), the snippet being the last user message's text,
  whitespace collapsed, cut to SNIPPET_CHARS; stopReason end_turn.
- additionalModelResponseFieldPaths naming `/usage/output_tokens_details` (LiteLLM asks for
  it): additionalModelResponseFields carries the reasoning block's tokens as thinking_tokens.
- inferenceConfig.maxTokens smaller than the answer: blocks are kept while they fit, a text
  block is cut to the tokens left, and stopReason is max_tokens.
outputTokens is the sum of the output blocks' tokens (tokens.block_tokens); totalTokens adds
inputTokens, outputTokens and both cache counts, as Bedrock does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .rules import sign_reasoning, thinking_enabled
from .tokens import CHARS_PER_TOKEN, PromptUsage, block_text, block_tokens

REASONING_TEXT = "The user wants a short answer, so I will reply briefly."
SNIPPET_CHARS = 60
OUTPUT_TOKENS_DETAILS_PATH = "/usage/output_tokens_details"
_SCHEMA_SAMPLES: dict[str, object] = {
    "integer": 1,
    "number": 1,
    "boolean": False,
    "array": [],
    "object": {},
}


@dataclass(frozen=True)
class Reply:
    """The assistant message, why it stopped, and the usage block Bedrock reports."""

    content: list[dict[str, Any]]
    stop_reason: str
    usage: dict[str, Any]
    additional_fields: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return "".join(block["text"] for block in self.content if "text" in block)


def compose_reply(model_id: str, request: Mapping[str, Any], prompt: PromptUsage) -> Reply:
    content: list[dict[str, Any]] = []
    if thinking_enabled(request):
        content.append(_reasoning_block())
    answer, stop_reason = _answer(model_id, request)
    content += answer
    max_tokens = (request.get("inferenceConfig") or {}).get("maxTokens")
    if max_tokens is not None and sum(map(block_tokens, content)) > max_tokens:
        content, stop_reason = _cut_to(content, max_tokens), "max_tokens"
    usage = _usage(prompt, sum(map(block_tokens, content)))
    return Reply(content, stop_reason, usage, _additional_fields(request, content))


def _answer(model_id: str, request: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The blocks after any reasoning, and the stop reason."""
    messages = request.get("messages") or []
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    user_blocks = last_user.get("content", [])
    tool_result = next((b["toolResult"] for b in user_blocks if "toolResult" in b), None)
    user_text = " ".join(b["text"] for b in user_blocks if "text" in b)
    tool_config = request.get("toolConfig") or {}
    tools = [tool["toolSpec"] for tool in tool_config.get("tools", []) if "toolSpec" in tool]
    if tool_result is not None:
        result_text = "".join(block_text(item) for item in tool_result.get("content", []))
        text = f"Hello from {model_id}. The tool returned: {_snippet(result_text)}"
        return [{"text": text}], "end_turn"
    if tools and user_text:
        calling = {"text": f"Calling {tools[0]['name']}."}
        return [calling, _tool_use(model_id, tools[0], user_text)], "tool_use"
    return [{"text": f"Hello from {model_id}. You said: {_snippet(user_text)}"}], "end_turn"


def _additional_fields(
    request: Mapping[str, Any], content: list[dict[str, Any]]
) -> dict[str, Any] | None:
    if OUTPUT_TOKENS_DETAILS_PATH not in (request.get("additionalModelResponseFieldPaths") or []):
        return None
    thinking_tokens = sum(block_tokens(block) for block in content if "reasoningContent" in block)
    return {"usage": {"output_tokens_details": {"thinking_tokens": thinking_tokens}}}


def _snippet(text: str) -> str:
    return " ".join(text.split())[:SNIPPET_CHARS]


def _reasoning_block() -> dict[str, Any]:
    signed = {"text": REASONING_TEXT, "signature": sign_reasoning(REASONING_TEXT)}
    return {"reasoningContent": {"reasoningText": signed}}


def _tool_use(model_id: str, spec: Mapping[str, Any], user_text: str) -> dict[str, Any]:
    schema = spec.get("inputSchema", {}).get("json", {})
    properties = schema.get("properties", {})
    tool_input = {
        name: _sample_value(properties.get(name, {}), user_text)
        for name in schema.get("required", [])
    }
    digest = hashlib.sha256(f"{model_id}\n{spec.get('name')}\n{user_text}".encode()).hexdigest()
    return {
        "toolUse": {
            "toolUseId": f"tooluse_{digest[:22]}",
            "name": spec["name"],
            "input": tool_input,
        }
    }


def _sample_value(schema: Mapping[str, Any], user_text: str) -> object:
    if schema.get("enum"):
        return schema["enum"][0]
    return _SCHEMA_SAMPLES.get(schema.get("type", "string"), _snippet(user_text))


def _cut_to(content: list[dict[str, Any]], max_tokens: int) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    budget = max_tokens
    for block in content:
        cost = block_tokens(block)
        if cost <= budget:
            kept.append(block)
            budget -= cost
            continue
        if "text" in block and budget > 0:
            kept.append({"text": block["text"][: budget * CHARS_PER_TOKEN]})
        break
    return kept


def _usage(prompt: PromptUsage, output_tokens: int) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "inputTokens": prompt.input_tokens,
        "outputTokens": output_tokens,
        "totalTokens": prompt.input_tokens
        + output_tokens
        + prompt.cache_read_input_tokens
        + prompt.cache_write_input_tokens,
        "cacheReadInputTokens": prompt.cache_read_input_tokens,
        "cacheWriteInputTokens": prompt.cache_write_input_tokens,
    }
    if prompt.cache_write_input_tokens:
        usage["cacheDetails"] = [
            {"ttl": prompt.cache_write_ttl, "inputTokens": prompt.cache_write_input_tokens}
        ]
    return usage
