"""CountTokens (`POST /model/{modelId}/count-tokens`): how many input tokens a request would use.

The body is botocore's `CountTokensRequest`: `input` is a union holding exactly one of
`converse` (messages, system, toolConfig, additionalModelRequestFields, as in Converse) or
`invokeModel` (`body`: the base64 of an InvokeModel body, for Claude an Anthropic Messages
request). The answer is `{"inputTokens": N}`, counted block by block by the rule of tokens.py
(for converse input the figure a Converse call with that prompt reports, cache points
ignored).

Like Bedrock, the operation takes base model ids only: an inference-profile id
(`us.anthropic...`) is an invalid model identifier here.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from . import errors
from .errors import Rejected
from .tokens import block_tokens, compact_json, count_tokens

_PROFILE_PREFIX = re.compile(r"^[a-z]{2,6}(?:-[a-z]+)?\.anthropic\.")


def check_base_model(model_id: str) -> None:
    if _PROFILE_PREFIX.match(model_id):
        raise Rejected(errors.INVALID_MODEL)


def input_tokens(request: Mapping[str, Any]) -> int:
    union = request.get("input")
    if not isinstance(union, Mapping) or len(union) != 1:
        raise Rejected(errors.validation("Exactly one of input.converse or input.invokeModel."))
    if "converse" in union:
        return _converse_tokens(union["converse"])
    if "invokeModel" in union:
        return _invoke_model_tokens(union["invokeModel"])
    raise Rejected(errors.MALFORMED_BODY)


def _converse_tokens(converse: Mapping[str, Any]) -> int:
    if not converse.get("messages"):
        raise Rejected(errors.validation("input.converse.messages must not be empty."))
    blocks = [
        *(converse.get("toolConfig") or {}).get("tools", []),
        *(converse.get("system") or []),
        *(block for message in converse["messages"] for block in message.get("content", [])),
    ]
    return sum(block_tokens(block) for block in blocks if "cachePoint" not in block)


def _invoke_model_tokens(invoke_model: Mapping[str, Any]) -> int:
    try:
        body = json.loads(base64.b64decode(invoke_model.get("body") or "", validate=True))
    except (binascii.Error, ValueError):
        raise Rejected(errors.MALFORMED_BODY) from None
    if not isinstance(body, Mapping) or not body.get("messages"):
        raise Rejected(errors.MALFORMED_BODY)
    return sum(count_tokens(text) for text in _anthropic_texts(body))


def _anthropic_texts(body: Mapping[str, Any]) -> Iterator[str]:
    """The counted text of an Anthropic Messages body, in the order tokens.py reads a prompt:
    tools, system, then every message's blocks (a string content is one text block)."""
    for tool in body.get("tools") or []:
        schema = compact_json(tool.get("input_schema", {}))
        yield tool.get("name", "") + tool.get("description", "") + schema
    yield from _content_texts(body.get("system") or [])
    for message in body["messages"]:
        yield from _content_texts(message.get("content", []))


def _content_texts(content: str | list[Mapping[str, Any]]) -> Iterator[str]:
    if isinstance(content, str):
        yield content
        return
    for block in content:
        kind = block.get("type")
        if kind == "text":
            yield block.get("text", "")
        elif kind == "thinking":
            yield block.get("thinking", "")
        elif kind == "tool_use":
            yield block.get("name", "") + compact_json(block.get("input", {}))
        elif kind == "tool_result":
            yield from _content_texts(block.get("content", []))
