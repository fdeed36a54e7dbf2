"""The Bedrock Runtime stand-in as an ASGI app: Converse, ConverseStream, CountTokens and a
control API.

A model call goes through the same gates as on AWS, in this order: authentication (SigV4 or
API key), the request body, the model id, then any fault set for the model, the beta flags
(betas.py), the conversation rules, the configured latency, and finally the deterministic
reply. CountTokens (count_tokens.py) passes the same gates up to the fault, then answers the
count. Every call is logged, failed ones too.

Control API (JSON, no authentication), for tests and benchmarks:
    GET  /_fake/health   {"status": "ok"}
    GET  /_fake/calls    the call log, oldest first (see `_new_call` for the fields)
    GET  /_fake/faults   the faults in force, by model id
    POST /_fake/faults   {"model_id", "kind" (null clears), "count"?, "delay_ms"?, "message"?}
    POST /_fake/reset    empty the call log and the prompt cache; faults back to the start set
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import betas, count_tokens, errors, rules
from .errors import Rejected, ServiceError
from .eventstream import event_frame, exception_frame
from .faults import MIDSTREAM_TEXT_DELTAS, Fault, FaultBook
from .replies import Reply, compose_reply
from .responses import converse_body, metadata_event, stream_events
from .sigv4 import AuthConfig, SignedRequest, authenticate
from .tokens import PromptCache

EVENT_STREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
_MODEL_PATH = re.compile(
    r"/model/(?P<model_id>[^/]+)/(?P<operation>converse|converse-stream|count-tokens)"
)
_OPERATIONS = {
    "converse": "Converse",
    "converse-stream": "ConverseStream",
    "count-tokens": "CountTokens",
}


@dataclass(frozen=True)
class FakeOptions:
    """How the stand-in behaves; see `python -m tests.fakes.bedrock --help`."""

    auth: AuthConfig
    faults: dict[str, Fault] = field(default_factory=dict)
    latency_ms: int = 0
    token_interval_ms: int = 0
    known_models: frozenset[str] = frozenset()


class BedrockStandIn:
    """The state behind the app: faults in force, prompt cache, call log."""

    def __init__(self, options: FakeOptions) -> None:
        self.options = options
        self.faults = FaultBook(options.faults)
        self.prompt_cache = PromptCache()
        self.calls: list[dict[str, Any]] = []

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/model/{rest:path}", self.model_call, methods=["POST"]),
                Route("/_fake/health", self.health, methods=["GET"]),
                Route("/_fake/calls", self.list_calls, methods=["GET"]),
                Route("/_fake/faults", self.list_faults, methods=["GET"]),
                Route("/_fake/faults", self.set_fault, methods=["POST"]),
                Route("/_fake/reset", self.reset, methods=["POST"]),
            ]
        )

    async def model_call(self, request: Request) -> Response:
        started = time.monotonic()
        raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        match = _MODEL_PATH.fullmatch(raw_path)
        if match is None:
            return _error_response(ServiceError(404, "UnknownOperationException", "Not Found"))
        model_id = unquote(match["model_id"])
        stream = match["operation"] == "converse-stream"
        counting = match["operation"] == "count-tokens"
        call = self._new_call(model_id, match["operation"], stream)
        body = await request.body()
        try:
            signed = SignedRequest("POST", raw_path, request.url.query, request.headers, body)
            call["auth"] = vars(authenticate(signed, self.options.auth)).copy()
            parsed = call["request"] = rules.parse_body(body)
            if counting:
                count_tokens.check_base_model(model_id)
            rules.check_model(model_id, self.options.known_models)
            fault = self.faults.take(model_id, stream=stream)
            call["fault"] = fault.kind if fault else None
            if fault and fault.error:
                raise Rejected(fault.error)
            if counting:
                call["usage"] = {"inputTokens": count_tokens.input_tokens(parsed)}
                call["status"] = 200
                return JSONResponse(call["usage"], headers=_request_id_header())
            flags = call["beta_flags"] = betas.requested_flags(
                parsed, request.headers.get("anthropic-beta")
            )
            betas.check_flags(flags)
            rules.check_conversation(parsed)
            reply = compose_reply(model_id, parsed, self.prompt_cache.measure(model_id, parsed))
        except Rejected as rejected:
            call.update(status=rejected.error.status, error=rejected.error.code)
            return _error_response(rejected.error)

        delay_ms = self.options.latency_ms
        if fault and fault.kind == "slow_first_byte":
            delay_ms += fault.delay_ms
        await asyncio.sleep(delay_ms / 1000)
        call["status"] = 200
        if not stream:
            call.update(response_text=reply.text, usage=reply.usage)
            body_json = converse_body(reply, _elapsed_ms(started))
            return JSONResponse(body_json, headers=_request_id_header())
        midstream_throttle = fault is not None and fault.kind == "midstream_throttle"
        return StreamingResponse(
            self._stream(call, reply, started, midstream_throttle=midstream_throttle),
            media_type=EVENT_STREAM_CONTENT_TYPE,
            headers=_request_id_header(),
        )

    async def _stream(
        self, call: dict[str, Any], reply: Reply, started: float, *, midstream_throttle: bool
    ) -> AsyncIterator[bytes]:
        """Frames of the reply, with the token cadence between deltas; `call` records the text
        sent so far. A mid-stream throttle cuts in after MIDSTREAM_TEXT_DELTAS text deltas
        (or before messageStop if the answer is shorter)."""
        interval = self.options.token_interval_ms / 1000
        text_deltas = 0
        deltas_sent = 0
        for event in stream_events(reply):
            cut_now = text_deltas >= MIDSTREAM_TEXT_DELTAS or event.event_type == "messageStop"
            if midstream_throttle and cut_now:
                call["error"] = "throttlingException"
                yield exception_frame("throttlingException", errors.THROTTLING_MESSAGE)
                return
            if event.is_delta:
                if deltas_sent and interval:
                    await asyncio.sleep(interval)
                deltas_sent += 1
            yield event_frame(event.event_type, event.body)
            if event.text:
                text_deltas += 1
                call["response_text"] += event.text
        metadata = metadata_event(reply, _elapsed_ms(started))
        call["usage"] = reply.usage
        yield event_frame(metadata.event_type, metadata.body)

    def _new_call(self, model_id: str, operation: str, stream: bool) -> dict[str, Any]:
        call: dict[str, Any] = {
            "id": len(self.calls) + 1,
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "model_id": model_id,
            "operation": _OPERATIONS[operation],
            "stream": stream,
            "status": None,
            "error": None,
            "fault": None,
            "auth": None,
            "request": None,
            "beta_flags": [],
            "response_text": "",
            "usage": None,
        }
        self.calls.append(call)
        return call

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def list_calls(self, request: Request) -> Response:
        return JSONResponse(self.calls)

    async def list_faults(self, request: Request) -> Response:
        return JSONResponse(self.faults.snapshot())

    async def set_fault(self, request: Request) -> Response:
        try:
            order = json.loads(await request.body())
            model_id = order["model_id"]
            settings = {key: order[key] for key in ("count", "delay_ms", "message") if key in order}
            fault = Fault(order["kind"], **settings) if order.get("kind") else None
        except (ValueError, KeyError, TypeError) as problem:
            return JSONResponse({"error": f"bad fault order: {problem}"}, status_code=400)
        self.faults.set(model_id, fault)
        return JSONResponse(self.faults.snapshot())

    async def reset(self, request: Request) -> Response:
        self.calls.clear()
        self.prompt_cache.clear()
        self.faults.reset()
        return JSONResponse({"status": "reset"})


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _request_id_header() -> dict[str, str]:
    return {"x-amzn-RequestId": str(uuid.uuid4())}


def _error_response(error: ServiceError) -> Response:
    headers = {**_request_id_header(), "x-amzn-ErrorType": error.error_type_header}
    return JSONResponse(error.body, status_code=error.status, headers=headers)
