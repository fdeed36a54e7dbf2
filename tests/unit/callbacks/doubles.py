"""Test doubles for the callback: a clock the test moves, and a scripted Langfuse transport.

The transport is httpx's own MockTransport, so the client under test runs its real request
code; the script answers with real status codes, headers and bodies, or raises the transport
errors httpx raises for a refused connection or a read timeout.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from callbacks.otlp import encode_attributes
from callbacks.spool import SpanRow


@dataclass
class FakeClock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(code, json=body if body is not None else {}, headers=headers)


@dataclass
class ScriptedLangfuse:
    """Answers export requests from `exports`, read-API requests from `reads`, in order.

    When a script runs out, exports are accepted (200) and reads find nothing. Every request
    is kept, with its decoded body, for the test to inspect.
    """

    exports: list[Answer] = field(default_factory=list)
    reads: list[Answer] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        is_export = request.url.path.endswith("/otel/v1/traces")
        script = self.exports if is_export else self.reads
        default = status(200, {}) if is_export else status(200, {"data": [], "meta": {}})
        answer = script.pop(0) if script else default
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer

    def exported_batches(self) -> list[list[dict[str, Any]]]:
        """The spans of every export request, in order (including refused ones)."""
        return [spans_of(r) for r in self.requests if r.url.path.endswith("/otel/v1/traces")]


def spans_of(request: httpx.Request) -> list[dict[str, Any]]:
    body = json.loads(gzip.decompress(request.content))
    return [
        span
        for resource in body["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


@dataclass
class RecordingRedactor:
    """Replaces the word SECRET with a placeholder and counts it, as the real one reports."""

    seen: list[Any] = field(default_factory=list)

    def redact(self, value: Any) -> tuple[Any, dict[str, int]]:
        self.seen.append(value)
        text = json.dumps(value)
        count = text.count("SECRET")
        return json.loads(text.replace("SECRET", "[REDACTED:test]")), (
            {"test": count} if count else {}
        )

    def redact_json(self, items: list[Any]) -> tuple[list[str], dict[str, int]]:
        texts: list[str] = []
        counts: Counter[str] = Counter()
        for item in items:
            cleaned, found = self.redact(item)
            texts.append(json.dumps(cleaned))
            counts.update(found)
        return texts, dict(counts)


def ids(rows: Iterable[Any]) -> list[str]:
    return [row.span_id for row in rows]


def exception_from(captured: dict[str, Any]) -> Exception:
    """An exception shaped like the LiteLLM one captured (class name, status, provider)."""
    error = type(captured["type"], (Exception,), {})(captured["message"])
    error.status_code = captured["status_code"]
    error.llm_provider = captured["llm_provider"]
    return error


def span_row(n: int, body: str = "hello") -> SpanRow:
    """A generation span numbered `n` (its own trace), with `body` as its input."""
    span = {
        "traceId": f"{n:032x}",
        "spanId": f"{n:016x}",
        "name": f"span {n}",
        "attributes": encode_attributes(
            {"langfuse.observation.type": "generation", "langfuse.observation.input": body}
        ),
    }
    return SpanRow(span["traceId"], span["spanId"], span)
