"""callbacks/request_guard.py: which bodies get a 400 before LiteLLM, and that others pass
through byte for byte. Through the proxy: tests/integration/test_callback_hostile_inputs.py.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from callbacks.request_guard import MAX_NESTING, RequestGuard, body_problem


def deep(depth: int) -> bytes:
    """A body whose containers nest `depth` levels deep (the outer object included)."""
    inner = depth - 1
    return b'{"messages": ' + b"[" * inner + b"]" * inner + b"}"


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def test_ordinary_bodies_pass() -> None:
    assert body_problem(b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}') is None
    assert body_problem(json.dumps({"content": "café ✓"}, ensure_ascii=False).encode()) is None
    assert body_problem(deep(300)) is None  # LiteLLM parses it: served, traced truncated


def test_invalid_utf8_names_the_offset() -> None:
    problem = body_problem(b'{"content": "caf\xff"}')

    assert problem is not None
    assert "not valid UTF-8 (invalid byte at offset 16)" in problem


def test_nesting_past_the_limit_is_named_whichever_parser_settles_it() -> None:
    # 1010 levels: LiteLLM parses it, then answers 500; 5000: its parsers refuse it.
    for depth in (MAX_NESTING + 1, 1010, 5000):
        problem = body_problem(deep(depth))

        assert problem is not None, depth
        assert "nested more than 512 levels deep" in problem


def test_nesting_up_to_the_limit_passes_however_many_brackets_there_are() -> None:
    wide = json.dumps({"tools": [{"a": [{"b": []}]} for _ in range(1000)], "x": nested(500)})

    assert body_problem(wide.encode()) is None
    assert body_problem(deep(MAX_NESTING)) is None


def test_invalid_json_is_left_to_litellm() -> None:
    assert body_problem(b'{"messages": [' * 300) is None


class Downstream:
    """The proxy's app as the guard sees it: reads the body, answers 200."""

    def __init__(self) -> None:
        self.body = b""
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(chunks: list[bytes], content_type: bytes = b"application/json") -> tuple[Downstream, list]:
    app = Downstream()
    sent: list[dict[str, Any]] = []
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1}
        for n, chunk in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"content-type", content_type)],
    }
    asyncio.run(RequestGuard(app)(scope, receive, send))
    return app, sent


def test_a_good_body_reaches_the_app_unchanged_in_any_chunking() -> None:
    app, sent = call([b'{"content": "ca', b"f\xc3\xa9", b'"}'])

    assert app.body == '{"content": "café"}'.encode()
    assert sent[0]["status"] == 200


def test_a_bad_body_gets_a_400_in_litellms_error_shape_and_never_reaches_the_app() -> None:
    app, sent = call([b'{"content": "caf', b'\xff"}'])

    assert app.calls == 0
    assert sent[0]["status"] == 400
    error = json.loads(sent[1]["body"])["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "400"
    assert "not valid UTF-8" in error["message"]


def test_bodies_that_are_not_json_are_not_inspected() -> None:
    app, sent = call([b"\xff\xfe binary"], content_type=b"multipart/form-data; boundary=x")

    assert app.body == b"\xff\xfe binary"
    assert sent[0]["status"] == 200
