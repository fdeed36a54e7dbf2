"""Langfuse's answers, byte-shaped as the real web container sends them.

Route errors are `{"message": ...}` (auth), `{"error": ...}` (the OTLP endpoint's own checks) or
`{"message": ..., "error": ...}` (the middleware). A body above the size limit gets Next.js's
plain-text 413, as Langfuse's body-parsed routes (/api/public/ingestion...) answer it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

RATE_LIMIT_POINTS = 1000


def message(status: int, text: str) -> JSONResponse:
    return JSONResponse({"message": text}, status_code=status)


def otlp_rejected(text: str) -> JSONResponse:
    return JSONResponse({"error": text}, status_code=400)


def invalid_request(issues: list[dict[str, Any]]) -> JSONResponse:
    """A zod validation failure, as Langfuse's middleware reports it."""
    return JSONResponse({"message": "Invalid request data", "error": issues}, status_code=400)


def method_not_allowed() -> JSONResponse:
    return JSONResponse(
        {"message": "Method not allowed", "error": "MethodNotAllowedError"}, status_code=405
    )


def payload_too_large(limit_bytes: int) -> PlainTextResponse:
    return PlainTextResponse(f"Body exceeded {_next_size(limit_bytes)} limit", status_code=413)


def _next_size(limit_bytes: int) -> str:
    """Sizes as Next.js prints its body limits (the `bytes` package: 4.5mb is 4.5 MiB)."""
    for unit, size in (("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10)):
        if limit_bytes >= size:
            return f"{round(limit_bytes / size, 2):g}{unit}"
    return f"{limit_bytes}b"


def injected_error(status: int, retry_after: int | None) -> Response:
    """An error chosen through /_fake/mode, in the shape Langfuse gives that status."""
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    if status == 429:
        wait_s = retry_after or 1
        headers.update(
            {
                "Retry-After": str(wait_s),
                "X-RateLimit-Limit": str(RATE_LIMIT_POINTS),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": _js_date_string(time.time() + wait_s),
            }
        )
        reset_at = datetime.fromtimestamp(time.time() + wait_s, UTC)
        body: dict[str, Any] = {
            "message": "Rate limit exceeded",
            "code": "rate_limited",
            "details": {
                "retryAfterSeconds": wait_s,
                "limit": RATE_LIMIT_POINTS,
                "remaining": 0,
                "resetAt": reset_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            },
        }
    elif status == 503:
        body = {"message": "Service Unavailable"}
    elif status == 500:
        body = {"message": "Internal Server Error", "error": "An unknown error occurred"}
    else:
        known = status in HTTPStatus._value2member_map_
        body = {"message": HTTPStatus(status).phrase if known else "Error"}
    return JSONResponse(body, status_code=status, headers=headers)


def _js_date_string(epoch_s: float) -> str:
    """JavaScript's `new Date(...).toString()` on a UTC host, as Langfuse's rate limiter sends."""
    return time.strftime(
        "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)", time.gmtime(epoch_s)
    )
