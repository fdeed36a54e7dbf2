"""Mend one flaw of LiteLLM's streamed `/v1/messages` answers: the doubled first thinking token.

LiteLLM 1.106.2 rebuilds Anthropic server-sent events from Bedrock's stream. When a message
opens with a thinking block, its `content_block_start` already carries the first thinking
token, and the `content_block_delta` after it carries the same token again. An Anthropic SDK
accumulator (`messages.stream()`, e.g. anthropic 2.12) appends both, so the client holds
"TheThe user wants..." next to a signature issued for "The user wants...": sent back on the
next tool turn, as thinking with tools requires, Bedrock refuses it (`Invalid signature in
thinking block`). The first-party API always opens text and thinking blocks empty.

This hook holds a `content_block_start` whose text or thinking is not empty until the next
event: when that is a delta of the same block starting with the same text, the start goes out
empty; otherwise both go out unchanged. Other events, and non-Anthropic streams, pass as they
are. Standard library and litellm only: LiteLLM loads this file by path, without its package.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

_START_PREFIX = b"event: content_block_start"
_DELTA_TEXT = {"text_delta": "text", "thinking_delta": "thinking"}
_BLOCK_TEXT = {"text": "text", "thinking": "thinking"}


def _is_block_start(item: object) -> bool:
    return isinstance(item, bytes | bytearray) and bytes(item[:32]).startswith(_START_PREFIX)


def _event_data(item: object) -> dict[str, Any] | None:
    """The JSON payload of one SSE event given as bytes, else None."""
    if not isinstance(item, bytes | bytearray):
        return None
    for line in bytes(item).splitlines():
        if line.startswith(b"data: "):
            try:
                data = json.loads(line[6:])
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def _seeded_text(start: dict[str, Any]) -> tuple[str, str] | None:
    """(field, text) of a block start that already carries text, else None."""
    block = start.get("content_block") or {}
    field = _BLOCK_TEXT.get(block.get("type"))
    text = block.get(field) if field else None
    return (field, text) if field and isinstance(text, str) and text else None


def _repeats(delta_event: dict[str, Any] | None, index: Any, text: str) -> bool:
    if not delta_event or delta_event.get("type") != "content_block_delta":
        return False
    delta = delta_event.get("delta") or {}
    field = _DELTA_TEXT.get(delta.get("type"))
    value = delta.get(field) if field else None
    return delta_event.get("index") == index and isinstance(value, str) and value.startswith(text)


def _emptied(start: dict[str, Any], field: str) -> bytes:
    block = {**start["content_block"], field: ""}
    payload = json.dumps({**start, "content_block": block})
    return f"event: content_block_start\ndata: {payload}\n\n".encode()


async def mend_block_starts(events: AsyncIterator[Any]) -> AsyncIterator[Any]:
    held: tuple[Any, dict[str, Any], str, str] | None = None
    async for item in events:
        if held is not None:
            raw, start, field, text = held
            held = None
            repeated = _repeats(_event_data(item), start.get("index"), text)
            yield _emptied(start, field) if repeated else raw
        start = _event_data(item) if _is_block_start(item) else None
        seeded = _seeded_text(start) if start else None
        if start is not None and seeded is not None:
            held = (item, start, *seeded)
            continue
        yield item
    if held is not None:
        yield held[0]


class AnthropicStreamMender(CustomLogger):
    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict
    ) -> AsyncIterator[Any]:
        async for item in mend_block_starts(response):
            yield item


stream_mender = AnthropicStreamMender()
