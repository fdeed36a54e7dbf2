"""Token counts and prompt caching, by rules simple enough for a test to compute by hand.

Counting: a block counts `ceil(len(text) / 4)` tokens of the text it carries (see
`block_text`); blocks are counted one by one and summed. Images, documents and other
media count 0.

The prompt is read in Anthropic's order: tools, then system, then messages. Caching works
like Anthropic's prompt cache, per model id, for as long as the process runs (or until
reset); there is no minimum prompt length and no expiry:
- a prompt without cachePoint blocks reports all its tokens as inputTokens;
- with cachePoints, the blocks before the last cachePoint form the cached prefix. The
  longest earlier-seen prefix ending at one of the request's cachePoints is read
  (cacheReadInputTokens); the rest of the prefix is written (cacheWriteInputTokens); the
  tokens after the last cachePoint are inputTokens. Every prefix ending at a cachePoint of
  this request is remembered.
So a first call writes its whole prefix, the same prompt again reads it all, and a longer
conversation with a new last cachePoint reads the old prefix and writes only the new part.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN = 4
DEFAULT_CACHE_TTL = "5m"


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def compact_json(value: object) -> str:
    """JSON as counted and hashed: no spaces, keys sorted."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def block_text(block: Mapping[str, Any]) -> str:
    """The text a block counts for: text; a tool's name and input or its result; reasoning
    text; a tool spec's name, description and JSON schema."""
    if "text" in block:
        return block["text"]
    if "json" in block:
        return compact_json(block["json"])
    if "toolUse" in block:
        tool_use = block["toolUse"]
        return tool_use.get("name", "") + compact_json(tool_use.get("input", {}))
    if "toolResult" in block:
        return "".join(block_text(item) for item in block["toolResult"].get("content", []))
    if "reasoningContent" in block:
        return block["reasoningContent"].get("reasoningText", {}).get("text", "")
    if "toolSpec" in block:
        spec = block["toolSpec"]
        schema = spec.get("inputSchema", {}).get("json", {})
        return spec.get("name", "") + spec.get("description", "") + compact_json(schema)
    return ""


def block_tokens(block: Mapping[str, Any]) -> int:
    return count_tokens(block_text(block))


@dataclass(frozen=True)
class PromptUsage:
    """How the prompt's tokens split between fresh input, cache reads and cache writes."""

    input_tokens: int
    cache_read_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    cache_write_ttl: str = DEFAULT_CACHE_TTL


def _prompt_blocks(request: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, block) for every block of the prompt, cachePoints included, in order."""
    for tool in (request.get("toolConfig") or {}).get("tools", []):
        yield "tools", tool
    for block in request.get("system") or []:
        yield "system", block
    for index, message in enumerate(request.get("messages") or []):
        for block in message.get("content", []):
            yield f"messages.{index}.{message.get('role')}", block


@dataclass(frozen=True)
class _CachePoint:
    tokens_before: int
    prefix_key: str
    ttl: str


class PromptCache:
    """Remembers cached prompt prefixes by a hash of model id and prefix content."""

    def __init__(self) -> None:
        self._known_prefixes: set[str] = set()

    def clear(self) -> None:
        self._known_prefixes.clear()

    def measure(self, model_id: str, request: Mapping[str, Any]) -> PromptUsage:
        """Split the prompt's tokens and remember its prefixes (see the module docstring)."""
        prefix_hash = hashlib.sha256(model_id.encode("utf-8"))
        total = 0
        points: list[_CachePoint] = []
        for where, block in _prompt_blocks(request):
            if "cachePoint" in block:
                ttl = block["cachePoint"].get("ttl", DEFAULT_CACHE_TTL)
                points.append(_CachePoint(total, prefix_hash.hexdigest(), ttl))
                continue
            prefix_hash.update(f"{where}\n{compact_json(block)}\n".encode())
            total += block_tokens(block)
        if not points:
            return PromptUsage(input_tokens=total)
        cached = points[-1].tokens_before
        read = max(
            (point.tokens_before for point in points if point.prefix_key in self._known_prefixes),
            default=0,
        )
        self._known_prefixes.update(point.prefix_key for point in points)
        return PromptUsage(
            input_tokens=total - cached,
            cache_read_input_tokens=read,
            cache_write_input_tokens=cached - read,
            cache_write_ttl=points[-1].ttl,
        )
