"""Streamed /v1/messages events: a block start that repeats its first delta goes out empty."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from callbacks.anthropic_stream import mend_block_starts


def event(kind: str, **data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def start(block: dict[str, Any]) -> bytes:
    return event("content_block_start", index=0, content_block=block)


def delta(kind: str, field: str, text: str) -> bytes:
    return event("content_block_delta", index=0, delta={"type": kind, field: text})


def mended(items: list[Any]) -> list[Any]:
    async def source() -> AsyncIterator[Any]:
        for item in items:
            yield item

    async def collect() -> list[Any]:
        return [item async for item in mend_block_starts(source())]

    return asyncio.run(collect())


def payload(item: bytes) -> dict[str, Any]:
    return json.loads(item.split(b"data: ", 1)[1])


def test_thinking_start_repeating_its_first_delta_is_sent_empty() -> None:
    first = delta("thinking_delta", "thinking", "The")
    out = mended([start({"type": "thinking", "thinking": "The", "signature": ""}), first])
    assert payload(out[0])["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert out[1] == first


def test_a_start_whose_text_is_not_repeated_is_kept() -> None:
    seeded = start({"type": "text", "text": "Hello"})
    other = delta("text_delta", "text", " world")
    assert mended([seeded, other]) == [seeded, other]


def test_a_seeded_start_at_the_end_of_the_stream_is_kept() -> None:
    seeded = start({"type": "thinking", "thinking": "The"})
    assert mended([seeded]) == [seeded]


def test_empty_starts_other_events_and_other_streams_pass_unchanged() -> None:
    items = [start({"type": "text", "text": ""}), event("message_stop"), {"choices": []}]
    assert mended(items) == items
