"""Langfuse's public API through the official SDK, behind one small module.

The SDK (`langfuse` 5.0.4) is used for reading only: its generated `LangfuseAPI` client,
never the tracing client, which would start exporters and threads of its own. Every call
has an explicit timeout and no retries, so doctor and the test script answer promptly and
can be pointed at the Langfuse stand-in by URL.

The SDK's 5.x line needs a self-hosted server of v4.59.0 or later (Langfuse's v4-to-v5
migration guide); `server_version_supported` checks a version the health endpoint reports.

    LangfuseError
    ├── LangfuseUnreachable       no HTTP answer, or not Langfuse's (connection, timeout, 5xx)
    └── LangfuseKeysRejected      401/403: the project keys are wrong for this server
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from langfuse.api.client import LangfuseAPI
from langfuse.api.core.api_error import ApiError
from langfuse.api.core.datetime_utils import serialize_datetime

from .errors import LangfuseError
from .settings import mask

DEFAULT_TIMEOUT_SECONDS = 10.0
MINIMUM_SERVER_VERSION = (4, 59, 0)
_NO_RETRIES: Any = {"max_retries": 0}
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


class LangfuseUnreachable(LangfuseError):
    """Langfuse did not answer, or answered with a server error."""


class LangfuseKeysRejected(LangfuseError):
    """Langfuse answered 401 or 403 to the configured project keys."""


@dataclass(frozen=True)
class ServerHealth:
    version: str
    status: str


@dataclass(frozen=True)
class Observation:
    """The fields of a v2 observation that the kit's checks read."""

    id: str
    trace_id: str
    type: str
    name: str
    model: str
    session_id: str
    user_id: str
    level: str
    status_message: str
    start_time: datetime | None
    completion_start_time: datetime | None
    usage: Mapping[str, int] = field(default_factory=dict)
    cost: Mapping[str, float] = field(default_factory=dict)
    total_cost: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


# Field groups of /api/public/v2/observations: everything the checks read, no input/output.
OBSERVATION_FIELDS = "core,basic,time,model,usage"
OBSERVATIONS_V2_PATH = "api/public/v2/observations"
MAX_PAGE_SIZE = 1000  # the v2 observations limit


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.search(text or "")
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def server_version_supported(version: str) -> bool | None:
    """True/False against MINIMUM_SERVER_VERSION; None when the version cannot be read."""
    parsed = parse_version(version)
    return None if parsed is None else parsed >= MINIMUM_SERVER_VERSION


def minimum_version_text() -> str:
    return "v" + ".".join(map(str, MINIMUM_SERVER_VERSION))


class LangfuseReader:
    """Read access to one Langfuse project: health, key check, observation look-ups."""

    def __init__(
        self,
        host: str,
        public_key: str,
        secret_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host.rstrip("/")
        self.public_key = public_key
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        self._api = LangfuseAPI(
            base_url=self.host,
            username=public_key,
            password=secret_key,
            x_langfuse_public_key=public_key,
            timeout=timeout,
            httpx_client=self._http,
        )

    def __enter__(self) -> LangfuseReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def health(self) -> ServerHealth:
        """Web's health (it answers without keys); raises LangfuseUnreachable."""
        result = self._call(lambda: self._api.health.health(request_options=_NO_RETRIES))
        return ServerHealth(version=result.version, status=result.status)

    def auth_check(self) -> str:
        """The project name the keys belong to; raises LangfuseKeysRejected or Unreachable."""
        projects = self._call(lambda: self._api.projects.get(request_options=_NO_RETRIES))
        if not projects.data:
            raise LangfuseKeysRejected(
                f"Langfuse at {self.host} knows no project for {mask(self.public_key)}",
                fix="Use a project-scoped key pair from the project's settings page.",
            )
        return projects.data[0].name

    def observations(
        self,
        *,
        trace_id: str | None = None,
        session_id: str | None = None,
        since: datetime | None = None,
        with_metadata: bool = False,
        limit: int = 100,
    ) -> list[Observation]:
        """Observations of one trace, one session or since a time (all three optional), newest
        first as Langfuse returns them; `with_metadata` adds their (trace) metadata."""
        fields = OBSERVATION_FIELDS + (",metadata" if with_metadata else "")
        response = self._call(
            lambda: self._api.observations.get_many(
                fields=fields,
                trace_id=trace_id,
                session_id=session_id,
                from_start_time=since,
                limit=limit,
                request_options=_NO_RETRIES,
            )
        )
        return [_observation(item) for item in response.data]

    def generation_pages(
        self, *, fields: str, start: datetime, end: datetime, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[list[dict[str, Any]]]:
        """Every generation that started in [start, end), page by page, newest first,
        following the cursor until Langfuse gives none.

        Pages come through the SDK's HTTP client (its auth, base URL and timeout) as plain
        JSON objects (ObservationV2 in the API's camelCase): the SDK's typed models cost more
        to build than the server takes to answer, and a month holds hundreds of pages."""
        params: dict[str, Any] = {
            "fields": fields,
            "type": "GENERATION",
            "fromStartTime": serialize_datetime(start),
            "toStartTime": serialize_datetime(end),
            "limit": page_size,
        }
        http = self._api._client_wrapper.httpx_client
        while True:
            response = self._call(
                functools.partial(
                    http.request,
                    OBSERVATIONS_V2_PATH,
                    method="GET",
                    params=params,
                    request_options=_NO_RETRIES,
                )
            )
            if not 200 <= response.status_code < 300:
                raise self._translate(response.status_code)
            page = self._call(response.json)
            yield page["data"]
            cursor = (page.get("meta") or {}).get("cursor")
            if not cursor or not page["data"]:
                return
            params["cursor"] = cursor

    def _call(self, request: Any) -> Any:
        try:
            return request()
        except ApiError as error:
            raise self._translate(error.status_code) from None
        except httpx.HTTPError as error:
            raise LangfuseUnreachable(
                f"cannot reach Langfuse at {self.host}: {type(error).__name__}",
                fix="Check that Langfuse runs and that the URL is right.",
            ) from None
        except ValueError as error:  # a 200 whose body is not Langfuse's JSON
            raise LangfuseUnreachable(
                f"{self.host} answered, but not like Langfuse ({type(error).__name__})",
                fix="Check that the URL points at Langfuse web, not another service.",
            ) from None

    def _translate(self, status: int | None) -> LangfuseError:
        if status in (401, 403):
            return LangfuseKeysRejected(
                f"Langfuse at {self.host} rejected the key pair {mask(self.public_key)} "
                f"(HTTP {status})",
                fix="Use the public and secret key of the same Langfuse project.",
            )
        return LangfuseUnreachable(
            f"Langfuse at {self.host} answered HTTP {status}",
            fix="Langfuse web is up but failing: read its logs.",
        )


def _observation(item: Any) -> Observation:
    return Observation(
        id=item.id,
        trace_id=item.trace_id or "",
        type=str(item.type or ""),
        name=item.name or "",
        model=item.model or "",
        session_id=item.session_id or "",
        user_id=item.user_id or "",
        level=str(item.level or ""),
        status_message=item.status_message or "",
        start_time=item.start_time,
        completion_start_time=item.completion_start_time,
        usage=dict(item.usage_details or {}),
        cost=dict(item.cost_details or {}),
        total_cost=item.total_cost,
        metadata=dict(item.metadata or {}),
    )
