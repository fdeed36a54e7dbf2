"""A local model server as the kit sees it: the OpenAI chat-completions wire format that
Ollama (`/v1`), vLLM and llama.cpp's server speak.

- `GET /v1/models`: the served models.
- `POST /v1/chat/completions`: the answer "Hello from <model>. You said: <last user text>",
  as one `chat.completion` with `usage`, or streamed as `chat.completion.chunk` server-sent
  events ending in `data: [DONE]`, with a last chunk of empty `choices` and the `usage` only
  when `stream_options.include_usage` is true (as the servers do).
- An unknown model answers 404, a wrong or missing key 401 (when the server has a key), in
  OpenAI's error shape. Tokens are whitespace-separated words: prompt and answer counts are
  what a test can recompute.

Every call is recorded (`calls()`): path, headers (lowercase names), body, and the usage
answered.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def count_tokens(text: str) -> int:
    return len(text.split())


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def answer_for(model: str, messages: Sequence[dict[str, Any]]) -> str:
    said = next((_text(m.get("content")) for m in reversed(messages) if m["role"] == "user"), "")
    return f"Hello from {model}. You said: {said}"


def usage_for(messages: Sequence[dict[str, Any]], answer: str) -> dict[str, int]:
    prompt = sum(count_tokens(_text(m.get("content"))) for m in messages)
    completion = count_tokens(answer)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


class OpenAICompatServer(ThreadingHTTPServer):
    """The server and what it was asked; `api_key` None accepts any key or none."""

    daemon_threads = True

    def __init__(self, models: Sequence[str], api_key: str | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.models = tuple(models)
        self.api_key = api_key
        self._calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, call: dict[str, Any]) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._calls)


class _Handler(BaseHTTPRequestHandler):
    server: OpenAICompatServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read calls(), not a log."""

    def do_GET(self) -> None:
        if not self._authorized():
            return
        if self.path.rstrip("/") != "/v1/models":
            self._error(HTTPStatus.NOT_FOUND, f"no route {self.path}", "not_found")
            return
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "local"}
            for m in self.server.models
        ]
        self._json(HTTPStatus.OK, {"object": "list", "data": data})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        headers = {name.lower(): value for name, value in self.headers.items()}
        call = {"path": self.path, "headers": headers, "body": body}
        if not self._authorized():
            self.server.record({**call, "status": 401})
            return
        if self.path != "/v1/chat/completions":
            self.server.record({**call, "status": 404})
            self._error(HTTPStatus.NOT_FOUND, f"no route {self.path}", "not_found")
            return
        model = body.get("model")
        if model not in self.server.models:
            self.server.record({**call, "status": 404})
            self._error(
                HTTPStatus.NOT_FOUND,
                f'model "{model}" not found, try pulling it first',
                "not_found_error",
            )
            return
        answer = answer_for(model, body.get("messages") or [])
        usage = usage_for(body.get("messages") or [], answer)
        self.server.record({**call, "status": 200, "usage": usage})
        if body.get("stream"):
            include_usage = (body.get("stream_options") or {}).get("include_usage") is True
            self._stream(model, answer, usage if include_usage else None)
        else:
            self._json(HTTPStatus.OK, _completion(model, answer, usage))

    def _authorized(self) -> bool:
        expected = self.server.api_key
        if expected is None or self.headers.get("Authorization") == f"Bearer {expected}":
            return True
        self._error(HTTPStatus.UNAUTHORIZED, "Incorrect API key provided", "invalid_api_key")
        return False

    def _json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: HTTPStatus, message: str, code: str) -> None:
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
        self._json(status, {"error": error})

    def _stream(self, model: str, answer: str, usage: dict[str, int] | None) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in _chunks(model, answer, usage):
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def _envelope(model: str, kind: str, call_id: str) -> dict[str, Any]:
    return {"id": call_id, "object": kind, "created": int(time.time()), "model": model}


def _completion(model: str, answer: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        **_envelope(model, "chat.completion", f"chatcmpl-{uuid.uuid4().hex[:12]}"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def _chunks(model: str, answer: str, usage: dict[str, int] | None) -> Iterator[dict[str, Any]]:
    envelope = _envelope(model, "chat.completion.chunk", f"chatcmpl-{uuid.uuid4().hex[:12]}")
    words = answer.split(" ")
    for index, word in enumerate(words):
        delta: dict[str, Any] = {"content": word if index == 0 else " " + word}
        if index == 0:
            delta["role"] = "assistant"
        yield {**envelope, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    yield {**envelope, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    if usage is not None:
        yield {**envelope, "choices": [], "usage": usage}
