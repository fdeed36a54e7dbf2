"""The HTTP surface: Langfuse's public routes, the worker's health route, the /_fake/ control API.

Public routes (Basic auth with the project keys):
    POST /api/public/otel/v1/traces    OTLP/HTTP export, protobuf or JSON, gzip or not
    GET  /api/public/v2/observations   the v4 read path (see observations_api)
    GET  /api/public/projects          what the SDK's auth_check() calls
    GET  /api/public/health            {"status": "OK", "version": ...}, no auth
Worker (`--worker`, the langfuse-worker stand-in): GET /api/health and /api/ready.
Control API, no auth, answered in every mode:
    GET  /_fake/status          readiness and the current mode
    GET  /_fake/otlp-requests   every export request: size, content type and encoding,
                                x-langfuse-ingestion-version, status answered, spans stored
    GET  /_fake/spans           every stored span, decoded, duplicates included
    GET  /_fake/traces/{id}     the trace as the UI aggregates it from its events (traces), 404
                                until one of its observations is readable
    GET|POST /_fake/mode        {"mode": "normal|blackhole|error", "status", "retry_after",
                                 "count", "store"} (see modes)
    POST /_fake/read-fault      {"status": 500} makes the read API (v2 observations) answer
                                that error status until {"status": null}
    POST /_fake/reset           forget every request and span, back to normal mode
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import responses
from .auth import PROJECT_ACCESS, Project, check_authorization
from .mapping import event_row, js_parse_int
from .modes import BLACKHOLE, ERROR, NORMAL, Mode, ModeSwitch
from .observations_api import QueryError, list_observations, order_key, parse_query
from .otlp import OtlpRejected, check_processable, decode_export, plain_attributes, received_spans
from .store import ExportRequest, Store, StoredSpan
from .traces import trace_view

# The version compose/langfuse.yml pins, so doctor sees what the real stack reports; the
# routes served follow the v4.9 OpenAPI reference, unchanged on these paths since.
SERVER_VERSION = "4.59.0"
DEFAULT_MAX_BODY_BYTES = 4_718_592  # Next.js's "4.5mb" body limit (4.5 MiB)
OTLP_PATH = "/api/public/otel/v1/traces"
MAX_INGESTION_VERSION = 4
INSUFFICIENT_ACCESS = "Access denied - insufficient permissions for this endpoint"


@dataclass
class FakeLangfuse:
    """The state behind the routes; one per process."""

    project: Project
    store: Store
    modes: ModeSwitch
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    ingestion_delay_s: float = 0.0
    read_fault: int | None = None
    # Every stored span as an events row with when it arrived, in arrival order and in read
    # order (see observations_api.order_key); spans are mapped once, as they arrive, so a read
    # of a large store costs a page, not the whole store.
    _arrived: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    _ordered: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    _last_row_id: int = 0

    def readable_rows(self, *, read_order: bool = False) -> list[dict[str, Any]]:
        """Events rows for the spans old enough to be readable (see --ingestion-delay-s), in
        arrival order, or in ascending read order."""
        new = self.store.spans(after_row_id=self._last_row_id)
        if new:
            rows = [(span.received_at, self._row(span)) for span in new]
            self._arrived += rows
            self._ordered += rows
            self._ordered.sort(key=lambda item: order_key(item[1]))
            self._last_row_id = new[-1].row_id
        cutoff = time.time() - self.ingestion_delay_s
        kept = self._ordered if read_order else self._arrived
        return [row for received_at, row in kept if received_at <= cutoff]

    def _row(self, span: StoredSpan) -> dict[str, Any]:
        return event_row(
            span.document, project_id=self.project.project_id, received_at=span.received_at
        )

    def reset(self) -> None:
        self.store.reset()
        self._arrived.clear()
        self._ordered.clear()
        self._last_row_id = 0
        self.modes.current = Mode()
        self.read_fault = None


def create_app(fake: FakeLangfuse) -> ASGIApp:
    """The langfuse-web stand-in."""

    async def ingest(request: Request) -> Response:
        return await _ingest(fake, request)

    async def observations(request: Request) -> Response:
        denied = _deny(fake.project, request)
        if denied:
            return denied
        if fake.read_fault is not None:
            return responses.message(fake.read_fault, "read API fault injected by the test")
        try:
            query = parse_query(request.query_params)
        except QueryError as error:
            return responses.invalid_request(error.issues)
        return JSONResponse(list_observations(fake.readable_rows(read_order=True), query))

    async def projects(request: Request) -> Response:
        auth = check_authorization(request.headers.get("authorization"), fake.project)
        if auth.error:
            return responses.message(401, auth.error)
        if auth.access != PROJECT_ACCESS:
            return responses.message(403, "Invalid API key. Are you using an organization key?")
        project = fake.project
        return JSONResponse(
            {
                "data": [
                    {
                        "id": project.project_id,
                        "name": project.project_name,
                        "organization": {"id": project.org_id, "name": project.org_name},
                        "metadata": {},
                    }
                ]
            }
        )

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "OK", "version": SERVER_VERSION})

    async def status(_: Request) -> Response:
        return JSONResponse({"ready": True, "mode": fake.modes.current.as_json()})

    async def otlp_requests(_: Request) -> Response:
        return JSONResponse(fake.store.requests())

    async def spans(_: Request) -> Response:
        return JSONResponse([_span_view(span) for span in fake.store.spans()])

    async def trace(request: Request) -> Response:
        view = trace_view(fake.readable_rows(), request.path_params["trace_id"])
        if view is None:
            return JSONResponse({"error": "no such trace"}, status_code=404)
        return JSONResponse(view)

    async def mode(request: Request) -> Response:
        if request.method == "POST":
            try:
                fake.modes.current = Mode.from_json(await request.json())
            except (ValueError, TypeError) as error:
                return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(fake.modes.current.as_json())

    async def read_fault(request: Request) -> Response:
        status = (await request.json()).get("status")
        if status is not None and not (isinstance(status, int) and 400 <= status <= 599):
            return JSONResponse({"error": "status must be null or 400-599"}, status_code=400)
        fake.read_fault = status
        return JSONResponse({"status": status})

    async def reset(_: Request) -> Response:
        fake.reset()
        return JSONResponse({"reset": True})

    app = Starlette(
        routes=[
            Route(OTLP_PATH, ingest, methods=["POST"]),
            Route("/api/public/v2/observations", observations, methods=["GET"]),
            Route("/api/public/projects", projects, methods=["GET"]),
            Route("/api/public/health", health, methods=["GET"]),
            Route("/_fake/status", status, methods=["GET"]),
            Route("/_fake/otlp-requests", otlp_requests, methods=["GET"]),
            Route("/_fake/spans", spans, methods=["GET"]),
            Route("/_fake/traces/{trace_id}", trace, methods=["GET"]),
            Route("/_fake/mode", mode, methods=["GET", "POST"]),
            Route("/_fake/read-fault", read_fault, methods=["POST"]),
            Route("/_fake/reset", reset, methods=["POST"]),
        ],
        exception_handlers={405: _method_not_allowed},
    )
    return _BlackholeGate(app, fake.modes)


def create_worker_app() -> ASGIApp:
    """The langfuse-worker stand-in: only its container health routes."""

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/api/health", health, methods=["GET"]),
            Route("/api/ready", health, methods=["GET"]),
        ]
    )


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/public/"):
        return responses.method_not_allowed()
    assert isinstance(exc, HTTPException)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


class _BlackholeGate:
    """In blackhole mode, hold every /api/ request except OTLP exports (which count the mode)."""

    def __init__(self, app: ASGIApp, modes: ModeSwitch) -> None:
        self.app = app
        self.modes = modes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and self.modes.current.name == BLACKHOLE
            and path.startswith("/api/")
            and path != OTLP_PATH
        ):
            await _hold_until_disconnect(receive)
            return
        await self.app(scope, receive, send)


async def _hold_until_disconnect(receive: Receive) -> None:
    """Never answer; return once the client has given up, so nothing is left running."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _deny(project: Project, request: Request) -> Response | None:
    """Langfuse's project-route auth: 401 with its message, 403 for narrower keys."""
    auth = check_authorization(request.headers.get("authorization"), project)
    if auth.error:
        return responses.message(401, auth.error)
    if auth.access != PROJECT_ACCESS:
        return responses.message(403, INSUFFICIENT_ACCESS)
    return None


async def _ingest(fake: FakeLangfuse, request: Request) -> Response:
    headers = request.headers
    received_at = time.time()
    size, body = await _read_limited(request, fake.max_body_bytes)
    export = ExportRequest(
        received_at=received_at,
        content_type=headers.get("content-type"),
        content_encoding=headers.get("content-encoding"),
        size=size,
        ingestion_version=headers.get("x-langfuse-ingestion-version"),
    )
    if body is None:
        fake.store.record(export, 413, [])
        return responses.payload_too_large(fake.max_body_bytes)
    mode = fake.modes.for_export()
    authorization = headers.get("authorization")
    if mode.name == NORMAL:
        answer, spans = _judge_export(fake.project, authorization, export, body)
        fake.store.record(export, answer.status_code, spans)
        return answer
    # Failure modes: keep what Langfuse would have accepted only when asked to (lost answer).
    spans = _judge_export(fake.project, authorization, export, body)[1] if mode.store else []
    if mode.name == ERROR:
        fake.store.record(export, mode.status, spans)
        return responses.injected_error(mode.status, mode.retry_after)
    fake.store.record(export, None, spans)
    await _hold_until_disconnect(request.receive)
    return Response(status_code=204)  # never delivered: the client is gone


async def _read_limited(request: Request, limit: int) -> tuple[int, bytes | None]:
    """The body's size, and the body itself unless it is larger than `limit` (then drained)."""
    declared = request.headers.get("content-length", "")
    too_large = declared.isdigit() and int(declared) > limit
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        too_large = too_large or size > limit
        if not too_large:
            chunks.append(chunk)
    return size, None if too_large else b"".join(chunks)


def _judge_export(
    project: Project, authorization: str | None, export: ExportRequest, body: bytes
) -> tuple[Response, list[dict[str, Any]]]:
    """Langfuse's answer to an export within the size limit, and the spans it accepts."""
    auth = check_authorization(authorization, project)
    if auth.error:
        return responses.message(401, auth.error), []
    if auth.access != PROJECT_ACCESS:
        return responses.message(403, INSUFFICIENT_ACCESS), []
    try:
        resource_spans = decode_export(body, export.content_type, export.content_encoding)
        if not resource_spans:
            return JSONResponse({}), []
        check_processable(resource_spans)
    except OtlpRejected as rejected:
        return responses.otlp_rejected(rejected.message), []
    version = export.ingestion_version
    if version is not None:
        parsed = js_parse_int(version)
        if parsed is None or parsed > MAX_INGESTION_VERSION:
            return responses.otlp_rejected(
                f'Unsupported x-langfuse-ingestion-version: "{version}". Maximum supported: "4".'
            ), []
    return JSONResponse({}), received_spans(resource_spans)


def _span_view(stored: StoredSpan) -> dict[str, Any]:
    """A stored span for tests: ids in hex, attributes as plain values, where it came from."""
    document = stored.document
    span = document["span"]
    scope = document["scope"]
    return {
        "requestId": stored.request_id,
        "receivedAt": stored.received_at,
        "traceId": span["traceId"],
        "spanId": span["spanId"],
        "parentSpanId": span.get("parentSpanId") or None,
        "name": span.get("name", ""),
        "kind": span.get("kind"),
        "startTimeUnixNano": int(span.get("startTimeUnixNano", 0)),
        "endTimeUnixNano": int(span.get("endTimeUnixNano", 0)),
        "status": span.get("status", {}),
        "attributes": plain_attributes(span.get("attributes")),
        "events": span.get("events", []),
        "resourceAttributes": plain_attributes(document["resource"].get("attributes")),
        "scope": {"name": scope.get("name"), "version": scope.get("version")},
    }
