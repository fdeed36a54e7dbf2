"""Answer 400 to a JSON body LiteLLM cannot serve, before LiteLLM reads it.

LiteLLM 1.106.2 (`proxy/common_utils/http_parsing_utils.read_request_body`) turns a body that
is not valid UTF-8, or is nested past what its JSON parsers take, into `{}` after logging a
traceback (twice: once for auth, once for the endpoint), and the client reads "Missing
required parameter: 'messages'". Its body is parsed before any hook the kit configures
(custom_auth, callbacks) runs, so this guard sits in front of the proxy's ASGI app: it reads
the body of each JSON request, replays it unchanged when it is fine, and otherwise answers a
400 that names the problem (in LiteLLM's error shape) and logs one line without content.

A body nested more than MAX_NESTING levels deep gets a 400 too: LiteLLM serves it only up to
about 1000 levels, and answers deeper ones with a 500 and a traceback. A body is checked only
as far as needed: its brackets alone bound its nesting, and ASCII within that bound cannot
fail; orjson (which validates UTF-8 as it parses) measures the rest; only a body orjson
refuses is decoded and parsed by the standard library, as LiteLLM would, to tell a too-deep
body from a merely invalid one (which LiteLLM answers with its own clear 400).

LiteLLM loads this module by file path when it reads `litellm_settings.callbacks`; creating
`request_guard` installs the guard on the proxy's app, once per process. Standard library and
what the LiteLLM image ships only: the module is loaded without its package.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from litellm.integrations.custom_logger import CustomLogger

log = logging.getLogger("llmops.request_guard")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Deeper bodies get a 400: LiteLLM parses up to 1024 levels, but fails with a 500 and a
# traceback when it encodes a body nested about 1000 levels deep for Bedrock.
MAX_NESTING = 512
_MARKER = "_llmops_request_guard"
_METHODS = frozenset({"POST", "PUT", "PATCH"})
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_TOO_DEEP = (
    f"The request body is nested more than {MAX_NESTING} levels deep. Send it with less nesting."
)


def body_problem(body: bytes) -> str | None:
    """Why the proxy could not serve `body` as JSON (the client's fix included), or None."""
    shallow = _bracket_nesting(body) <= MAX_NESTING
    if shallow and body.isascii():
        return None
    if not shallow:
        try:
            return _TOO_DEEP if _nested_deeper(orjson.loads(body), MAX_NESTING) else None
        except orjson.JSONDecodeError:
            pass
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return (
            f"The request body is not valid UTF-8 (invalid byte at offset {error.start}). "
            "Send the JSON body encoded as UTF-8."
        )
    if shallow:
        return None
    try:
        return _TOO_DEEP if _nested_deeper(json.loads(text), MAX_NESTING) else None
    except RecursionError:
        return _TOO_DEEP
    except ValueError:
        return None  # invalid JSON: LiteLLM answers it with its own 400


def _bracket_nesting(body: bytes) -> int:
    """At least how deep the brackets of `body` nest (those in strings included), at C speed.
    Each round takes out the innermost pairs, up to two levels where `[]` and `{}` alternate:
    twice the rounds bounds the depth; brackets left unpaired count one level each. Only a
    body past MAX_NESTING by this count is parsed to measure it exactly."""
    brackets = body.translate(None, _NOT_BRACKETS)
    rounds = 0
    while brackets and 2 * rounds <= MAX_NESTING:
        inner = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(inner) == len(brackets):
            return 2 * rounds + len(brackets)
        brackets, rounds = inner, rounds + 1
    return 2 * rounds


def _nested_deeper(value: Any, limit: int) -> bool:
    """Whether `value` holds containers nested more than `limit` deep (without recursion)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media in (b"", b"application/json") or media.endswith(b"+json")
    return True  # LiteLLM parses a body without a content type as JSON


class RequestGuard:
    """ASGI middleware: a 400 for a JSON body that LiteLLM would turn into `{}`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope.get("type") != "http"
            or scope.get("method") not in _METHODS
            or not _is_json(scope)
        ):
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        while True:
            message = await receive()
            received.append(message)
            if message.get("type") != "http.request" or not message.get("more_body"):
                break
        body = b"".join(m.get("body", b"") for m in received if m.get("type") == "http.request")
        try:
            problem = body_problem(body)
        except Exception:  # never fail a request because of the guard itself
            problem = None
        if problem is not None and received[-1].get("type") == "http.request":
            log.warning("llmops: 400 for %s %s: %s", scope["method"], scope.get("path"), problem)
            await _send_bad_request(send, problem)
            return

        # The messages as received, then the client's own channel (for its disconnect).
        async def replayed() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replayed, send)


async def _send_bad_request(send: Send, message: str) -> None:
    body = json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": "request_body",
                "code": "400",
            }
        }
    ).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install(app: Any) -> None:
    """Put the guard in front of `app` (a Starlette app, started or not). Idempotent."""
    if getattr(app, _MARKER, False):
        return
    if app.middleware_stack is None:
        app.add_middleware(RequestGuard)
    else:  # started: the stack is built once, at the first ASGI call (the lifespan)
        app.middleware_stack = RequestGuard(app.middleware_stack)
    setattr(app, _MARKER, True)


class RequestGuardInstaller(CustomLogger):
    """A callback LiteLLM instantiates at start-up; it only installs the guard, in the proxy
    (a config check that loads the callbacks outside it has no app to guard)."""

    def __init__(self) -> None:
        super().__init__()
        proxy_server = sys.modules.get("litellm.proxy.proxy_server")
        if proxy_server is not None:
            install(proxy_server.app)


request_guard = RequestGuardInstaller()
