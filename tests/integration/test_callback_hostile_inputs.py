"""Through the real proxy: requests no client should send are still traced or clearly refused.

A request nested past orjson's limit or carrying 20 MB is served, so it must be traced (its
input truncated, saying so, if need be). A body that is not UTF-8 or is nested absurdly deep
cannot be served: the client gets a 400 that says why, and the proxy's log no traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.bedrock.harness import running_bedrock
from tests.fakes.langfuse.harness import running_langfuse
from tests.integration.callback_stack import (
    CLIENT_TIMEOUT_S,
    USER,
    USER_KEY,
    CallbackStack,
    open_callback_stack,
)

pytestmark = pytest.mark.integration

MODEL = "claude-sonnet-4-6"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbackStack]:
    work_dir = tmp_path_factory.mktemp("callback-hostile")
    with (
        running_bedrock() as bedrock,
        running_langfuse() as langfuse,
        open_callback_stack(work_dir, bedrock, langfuse) as opened,
    ):
        yield opened


def nested(depth: int) -> Any:
    value: Any = "the bottom"
    for _ in range(depth):
        value = [value]
    return value


def post(stack: CallbackStack, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{stack.proxy.openai_url}/chat/completions",
        content=body,
        headers={"Authorization": f"Bearer {USER_KEY}", "Content-Type": "application/json"},
        timeout=CLIENT_TIMEOUT_S,
    )


def request_body(content: Any) -> bytes:
    document = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
    return json.dumps(document, ensure_ascii=False).encode()


def test_a_request_nested_past_orjsons_limit_is_traced_with_its_input_truncated(
    stack: CallbackStack,
) -> None:
    content = [{"type": "text", "text": "look at this", "detail": nested(300)}]

    response = post(stack, request_body(content))

    assert response.status_code == 200, response.text
    root, generation = stack.trace(response.headers["x-litellm-call-id"])
    assert root["userId"] == generation["userId"] == USER
    assert generation["usageDetails"]["output"] > 0
    logged = json.dumps(generation["input"])
    assert "look at this" in logged
    assert "[truncated: nested deeper than 200 levels]" in logged
    assert "an event could not be recorded" not in stack.proxy.log_tail(400)


def test_a_20_mb_request_is_traced(stack: CallbackStack) -> None:
    response = post(stack, request_body("twenty megabytes " + "a" * 20_000_000))

    assert response.status_code == 200, response.text
    root, generation = stack.trace(response.headers["x-litellm-call-id"])
    assert root["level"] == generation["level"] == "DEFAULT"
    assert "twenty megabytes" in json.dumps(generation["input"])


def test_a_body_that_is_not_utf8_is_a_400_that_says_so(stack: CallbackStack) -> None:
    body = request_body("café").replace("é".encode(), b"\xff\xfe")

    response = post(stack, body)

    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "not valid UTF-8" in message
    assert "Missing required parameter" not in message
    assert "Traceback" not in stack.proxy.log_tail(400)


# 1010: LiteLLM parses it, then fails with a 500 as it encodes it for Bedrock; 5000: LiteLLM's
# parsers refuse it and it answers "Missing required parameter: 'messages'".
@pytest.mark.parametrize("depth", [1010, 5000])
def test_a_body_nested_absurdly_deep_is_a_400_that_says_so(
    stack: CallbackStack, depth: int
) -> None:
    body = request_body("hi")[:-1] + b', "x": ' + b"[" * depth + b"]" * depth + b"}"

    response = post(stack, body)

    assert response.status_code == 400
    assert "nested more than 512 levels deep" in response.json()["error"]["message"]
    assert "Traceback" not in stack.proxy.log_tail(400)


def test_a_guarded_proxy_still_serves_ordinary_requests_with_deep_tool_schemas(
    stack: CallbackStack,
) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": f"tool_{n}",
                "parameters": {"type": "object", "properties": {"a": {"type": "string"}}},
            },
        }
        for n in range(100)
    ]
    body = json.dumps(
        {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "tools": tools}
    ).encode()

    response = post(stack, body)

    assert response.status_code == 200, response.text


def test_the_spool_the_proxy_writes_is_private_to_its_user(stack: CallbackStack) -> None:
    post(stack, request_body("hello"))
    stack.wait_until_delivered()

    modes = {
        entry.name: entry.stat().st_mode & 0o777
        for entry in [stack.spool_dir, *stack.spool_dir.iterdir()]
    }
    assert "spool.db" in modes
    assert modes == {name: 0o700 if name == "spool" else 0o600 for name in modes}
