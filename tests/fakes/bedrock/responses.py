"""A Reply rendered as Bedrock sends it: a Converse JSON body, or the ConverseStream events.

The stream follows the real order: messageStart; per content block, a contentBlockStart only
for toolUse, contentBlockDelta events (text word by word; reasoning text then its signature;
tool input as JSON fragments), contentBlockStop; messageStop; metadata with usage and
metrics. Like Bedrock, each event payload carries a `p` padding field that clients ignore.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .replies import Reply
from .tokens import compact_json

TOOL_INPUT_FRAGMENT_CHARS = 20
_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_WORDS = re.compile(r"\s*\S+|\s+$")


def converse_body(reply: Reply, latency_ms: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": reply.content}},
        "stopReason": reply.stop_reason,
        "usage": reply.usage,
        "metrics": {"latencyMs": latency_ms},
    }
    if reply.additional_fields is not None:
        body["additionalModelResponseFields"] = reply.additional_fields
    return body


@dataclass(frozen=True)
class StreamEvent:
    """One event frame to send; `text` is the answer text it carries, if any."""

    event_type: str
    body: dict[str, Any]
    text: str = ""

    @property
    def is_delta(self) -> bool:
        return self.event_type == "contentBlockDelta"


def stream_events(reply: Reply) -> list[StreamEvent]:
    """Every event up to messageStop; metadata follows once the latency is known."""
    events = [StreamEvent("messageStart", {"role": "assistant"})]
    for index, block in enumerate(reply.content):
        events += _block_events(index, block)
        events.append(StreamEvent("contentBlockStop", {"contentBlockIndex": index}))
    stop: dict[str, Any] = {"stopReason": reply.stop_reason}
    if reply.additional_fields is not None:
        stop["additionalModelResponseFields"] = reply.additional_fields
    events.append(StreamEvent("messageStop", stop))
    return [_padded(event) for event in events]


def metadata_event(reply: Reply, latency_ms: int) -> StreamEvent:
    body = {"usage": reply.usage, "metrics": {"latencyMs": latency_ms}}
    return _padded(StreamEvent("metadata", body))


def _block_events(index: int, block: dict[str, Any]) -> Iterator[StreamEvent]:
    def delta(body: dict[str, Any], text: str = "") -> StreamEvent:
        return StreamEvent("contentBlockDelta", {"contentBlockIndex": index, "delta": body}, text)

    if "text" in block:
        for word in _WORDS.findall(block["text"]):
            yield delta({"text": word}, word)
    elif "reasoningContent" in block:
        reasoning = block["reasoningContent"]["reasoningText"]
        for word in _WORDS.findall(reasoning["text"]):
            yield delta({"reasoningContent": {"text": word}})
        yield delta({"reasoningContent": {"signature": reasoning["signature"]}})
    elif "toolUse" in block:
        tool_use = block["toolUse"]
        start = {"toolUse": {"toolUseId": tool_use["toolUseId"], "name": tool_use["name"]}}
        yield StreamEvent("contentBlockStart", {"contentBlockIndex": index, "start": start})
        tool_input = compact_json(tool_use["input"])
        for offset in range(0, len(tool_input), TOOL_INPUT_FRAGMENT_CHARS):
            fragment = tool_input[offset : offset + TOOL_INPUT_FRAGMENT_CHARS]
            yield delta({"toolUse": {"input": fragment}})


def _padded(event: StreamEvent) -> StreamEvent:
    padding = _PADDING[: len(event.event_type) + len(event.text)]
    return StreamEvent(event.event_type, {**event.body, "p": padding}, event.text)
