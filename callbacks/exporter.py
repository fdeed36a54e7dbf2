"""Talking to Langfuse: one OTLP/HTTP export, one read-API lookup, and the retry policy.

The exporter never retries by itself and never raises on a network failure; it says what
happened, and the worker decides. The distinction that matters for exactly-once is whether
the request may have reached Langfuse:

    DELIVERED   2xx: Langfuse has the spans.
    RETRY       not delivered for sure: connection refused, 408/429/503 (the server says
                it did not take the request), or a 4xx such as 404 (wrong LANGFUSE_HOST).
    IN_DOUBT    sent, but no usable answer: a timeout, a dropped connection, or another
                5xx (a gateway's 502/504 can come after Langfuse took the batch). Langfuse
                may have the spans; check the read API before sending them again.
    AUTH        401/403: the keys are wrong; keep the data and say so.
    TOO_LARGE   413: split the batch or shrink the span.
    REJECTED    400/422: Langfuse cannot take these spans as they are.
"""

from __future__ import annotations

import base64
import email.utils
import enum
import gzip
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from .jsontext import encode
from .otlp import export_request

EXPORT_PATH = "/api/public/otel/v1/traces"
OBSERVATIONS_PATH = "/api/public/v2/observations"
USER_AGENT = "llmops-kit-callback/1"
# 5xx statuses that say the request was not taken; any other 5xx leaves it in doubt.
NOT_TAKEN_STATUSES = frozenset({503})


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    IN_DOUBT = "in_doubt"
    AUTH = "auth"
    TOO_LARGE = "too_large"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ExportResult:
    outcome: Outcome
    detail: str
    status: int | None = None
    retry_after: float | None = None


class LookupFailed(Exception):
    """The read API could not say which observations a trace has."""


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How long to wait after a failed export: jittered exponential backoff, as data.

    The n-th consecutive failure waits `initial * multiplier**(n-1)`, capped at `maximum`,
    minus up to `jitter` of itself at random (so many proxies do not retry in step);
    never less than what the server asked for with Retry-After (itself capped).
    """

    initial: float = 1.0
    multiplier: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.5
    max_retry_after: float = 600.0

    def delay(
        self,
        failures: int,
        retry_after: float | None = None,
        rng: Callable[[], float] = random.random,
    ) -> float:
        base = min(self.maximum, self.initial * self.multiplier ** max(0, failures - 1))
        wait = base * (1.0 - self.jitter * rng())
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _classify(response: httpx.Response, now: float) -> ExportResult:
    status = response.status_code
    if 200 <= status < 300:
        return ExportResult(Outcome.DELIVERED, f"HTTP {status}", status)
    detail = f"HTTP {status} from Langfuse: {_short(response.text)}"
    if status in (401, 403):
        return ExportResult(Outcome.AUTH, detail, status)
    if status == 413:
        return ExportResult(Outcome.TOO_LARGE, detail, status)
    if status in (400, 422):
        return ExportResult(Outcome.REJECTED, detail, status)
    retry_after = parse_retry_after(response.headers.get("retry-after"), now)
    if status >= 500 and status not in NOT_TAKEN_STATUSES:
        return ExportResult(Outcome.IN_DOUBT, detail, status, retry_after)
    if status == 404:
        detail += " (is LANGFUSE_HOST a Langfuse v4 server?)"
    return ExportResult(Outcome.RETRY, detail, status, retry_after)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class OtlpIngestionClient:
    """OTLP export and read-API lookups against one Langfuse project."""

    def __init__(
        self,
        *,
        host: str,
        public_key: str,
        secret_key: str,
        timeout: float,
        clock: Callable[[], float],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        self.host = host.rstrip("/")
        self._clock = clock
        self._client = httpx.Client(
            base_url=self.host,
            headers={"Authorization": f"Basic {token}", "User-Agent": USER_AGENT},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            # A fresh connection per request: a pooled one the server already closed would
            # fail after sending and turn a harmless retry into an in-doubt batch.
            limits=httpx.Limits(max_keepalive_connections=0),
            transport=transport,
        )

    def export(self, spans: Sequence[Mapping[str, Any]]) -> ExportResult:
        # Level 1: the fastest; the README compares it with higher levels on source code.
        body = gzip.compress(encode(export_request(spans)), compresslevel=1)
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "x-langfuse-ingestion-version": "4",
        }
        try:
            response = self._client.post(EXPORT_PATH, content=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as problem:
            return ExportResult(Outcome.RETRY, f"cannot reach Langfuse at {self.host}: {problem}")
        except httpx.TransportError as problem:
            return ExportResult(
                Outcome.IN_DOUBT,
                f"no answer from Langfuse at {self.host} ({type(problem).__name__})",
            )
        return _classify(response, self._clock())

    def observation_ids(self, trace_id: str) -> set[str]:
        """Ids of every observation Langfuse can show for `trace_id` (all pages)."""
        ids: set[str] = set()
        params: dict[str, str] = {"traceId": trace_id, "fields": "core", "limit": "1000"}
        while True:
            try:
                response = self._client.get(OBSERVATIONS_PATH, params=params)
            except httpx.TransportError as problem:
                raise LookupFailed(f"read API unreachable: {type(problem).__name__}") from None
            if response.status_code != 200:
                raise LookupFailed(f"read API answered HTTP {response.status_code}")
            try:
                page = response.json()
                ids.update(str(item["id"]) for item in page["data"])
                cursor = (page.get("meta") or {}).get("cursor")
            except (ValueError, KeyError, TypeError) as problem:
                raise LookupFailed(f"read API answer not understood: {problem}") from None
            if not cursor:
                return ids
            params["cursor"] = cursor
