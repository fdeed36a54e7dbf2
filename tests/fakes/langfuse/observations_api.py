"""GET /api/public/v2/observations as Langfuse v4 serves it: filters, field groups, cursor pages.

Rows from mapping.event_row are read back the way Langfuse's events repository and observation
converter do it, quirks included: the `model` group answers `model` (not the `providedModelName`
of the OpenAPI file), absent text columns read as "" (ClickHouse String), input and output are
raw strings ("" reads as null), metadata values are cut to 200 characters unless `io` is
requested or `expandMetadata` is given, `latency` is always present and `timeToFirstToken` is
null unless the `time` or `metrics` group is requested. Order: newest start time first, ties by
trace id then id (Langfuse hashes the trace id for that tie-break; only equal start times can
come out in another order). The structured `filter` parameter is not implemented: it answers
400 rather than being ignored.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.datastructures import QueryParams

FIELD_GROUPS = (
    "core",
    "basic",
    "time",
    "io",
    "metadata",
    "model",
    "usage",
    "prompt",
    "metrics",
    "trace_context",
)
DEFAULT_GROUPS = ("core", "basic")
OBSERVATION_TYPES = (
    "SPAN",
    "EVENT",
    "GENERATION",
    "AGENT",
    "TOOL",
    "CHAIN",
    "RETRIEVER",
    "EVALUATOR",
    "EMBEDDING",
    "GUARDRAIL",
)
LEVELS = ("DEBUG", "DEFAULT", "WARNING", "ERROR")
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
METADATA_PREVIEW_CHARS = 200
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Query parameter -> events-table column compared for equality.
EQUALITY_FILTERS = {
    "traceId": "trace_id",
    "userId": "user_id",
    "sessionId": "session_id",
    "name": "name",
    "type": "type",
    "level": "level",
    "version": "version",
    "parentObservationId": "parent_span_id",
}


class QueryError(Exception):
    """The query is invalid; `issues` are zod-style issues, as Langfuse reports them."""

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        super().__init__(issues)
        self.issues = issues


def _issue(parameter: str, text: str, code: str = "custom") -> QueryError:
    return QueryError([{"code": code, "message": text, "path": [parameter]}])


@dataclass(frozen=True)
class ObservationsQuery:
    groups: tuple[str, ...] = DEFAULT_GROUPS
    full_metadata: bool = False
    limit: int = DEFAULT_LIMIT
    cursor: tuple[int, str, str] | None = None
    equals: dict[str, str] = field(default_factory=dict)
    environments: tuple[str, ...] = ()
    is_root: bool | None = None
    from_ms: int | None = None
    to_ms: int | None = None


def parse_query(params: QueryParams) -> ObservationsQuery:
    """The query string, validated as Langfuse's GetObservationsV2Query does."""
    if params.get("parseIoAsJson") == "true":
        raise _issue(
            "parseIoAsJson",
            "parseIoAsJson=true is no longer supported on the v2 observations endpoint. "
            "Input/output fields are always returned as raw strings. Remove the parseIoAsJson "
            "parameter or set it to false.",
        )
    if params.get("filter"):
        raise _issue(
            "filter",
            "the Langfuse stand-in does not implement the structured `filter` parameter; "
            "use the plain query filters",
        )
    requested = [g.strip() for g in params.get("fields", "").split(",") if g.strip()]
    groups = tuple(g for g in requested if g in FIELD_GROUPS) or DEFAULT_GROUPS
    groups = ("core", *(g for g in groups if g != "core"))
    equals = {column: params[name] for name, column in EQUALITY_FILTERS.items() if name in params}
    _check_choice("type", equals.get("type"), OBSERVATION_TYPES)
    _check_choice("level", equals.get("level"), LEVELS)
    expand = [key for key in params.get("expandMetadata", "").split(",") if key.strip()]
    return ObservationsQuery(
        groups=groups,
        full_metadata="io" in groups or bool(expand),
        limit=_limit(params.get("limit")),
        cursor=_cursor(params.get("cursor")),
        equals=equals,
        environments=tuple(params.getlist("environment")),
        is_root=_boolean("isRootObservation", params.get("isRootObservation")),
        from_ms=_date_ms("fromStartTime", params.get("fromStartTime")),
        to_ms=_date_ms("toStartTime", params.get("toStartTime")),
    )


def _check_choice(parameter: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        raise _issue(
            parameter,
            f"Invalid enum value. Expected {' | '.join(repr(c) for c in choices)}, "
            f"received '{value}'",
            "invalid_enum_value",
        )


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError as exc:
        raise _issue("limit", "Expected number, received nan", "invalid_type") from exc
    if not 0 <= limit <= MAX_LIMIT:
        raise _issue("limit", f"Number must be between 0 and {MAX_LIMIT}", "too_big")
    return limit


def _boolean(parameter: str, value: str | None) -> bool | None:
    if value is None:
        return None
    if value not in ("true", "false"):
        raise _issue(parameter, "Invalid enum value. Expected 'true' | 'false'")
    return value == "true"


def _date_ms(parameter: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return _ms(datetime.fromisoformat(value))
    except ValueError as exc:
        raise _issue(parameter, "Invalid datetime", "invalid_string") from exc


def _ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _cursor(value: str | None) -> tuple[int, str, str] | None:
    if not value:
        return None
    try:
        decoded = json.loads(base64.b64decode(value, validate=True))
        return (
            _ms(datetime.fromisoformat(decoded["lastStartTimeTo"])),
            str(decoded["lastTraceId"]),
            str(decoded["lastId"]),
        )
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise _issue("cursor", "Invalid cursor format") from exc


def encode_cursor(row: dict[str, Any]) -> str:
    cursor = {
        "lastStartTimeTo": iso(row["start_time"]),
        "lastTraceId": row["trace_id"],
        "lastId": row["id"],
    }
    return base64.b64encode(json.dumps(cursor, separators=(",", ":")).encode()).decode()


def iso(ms: int | None) -> str | None:
    """A millisecond timestamp as JavaScript's Date.toISOString() writes it."""
    if ms is None:
        return None
    moment = EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def order_key(row: dict[str, Any]) -> tuple[int, str, str]:
    """Where a row sorts: pages run from the largest key down."""
    return (row["start_time"], row["trace_id"], row["id"])


def list_observations(rows: Sequence[dict[str, Any]], query: ObservationsQuery) -> dict[str, Any]:
    """The ObservationsV2Response body for the matching rows; `rows` in ascending order_key.

    A page is read from its cursor (or the end) downwards, so its cost is the page, not the
    store: a report pages through hundreds of thousands of generations."""
    end = len(rows)
    if query.cursor:
        end = bisect.bisect_left(rows, query.cursor, key=order_key)
    if query.to_ms is not None:
        end = min(end, bisect.bisect_left(rows, (query.to_ms,), key=order_key))
    page: list[dict[str, Any]] = []
    has_more = False
    for index in range(end - 1, -1, -1):
        row = rows[index]
        if query.from_ms is not None and row["start_time"] < query.from_ms:
            break
        if _matches(row, query):
            if len(page) == query.limit:
                has_more = bool(page)
                break
            page.append(row)
    return {
        "data": [render(row, query) for row in page],
        "meta": {"cursor": encode_cursor(page[-1])} if has_more else {},
    }


def _matches(row: dict[str, Any], query: ObservationsQuery) -> bool:
    if any(row[column] != value for column, value in query.equals.items()):
        return False
    if query.environments and row["environment"] not in query.environments:
        return False
    if query.is_root is not None and _is_root(row) != query.is_root:
        return False
    if query.from_ms is not None and row["start_time"] < query.from_ms:
        return False
    return query.to_ms is None or row["start_time"] < query.to_ms


def _is_root(row: dict[str, Any]) -> bool:
    return row["parent_span_id"] == "" or row["is_app_root"]


def render(row: dict[str, Any], query: ObservationsQuery) -> dict[str, Any]:
    """One ObservationV2: core fields, the requested groups, and the always-present extras."""
    groups = query.groups
    start, completion_start = row["start_time"], row["completion_start_time"]
    observation: dict[str, Any] = {
        "id": row["id"],
        "traceId": row["trace_id"],
        "startTime": iso(start),
        "endTime": iso(row["end_time"]),
        "projectId": row["project_id"],
        "parentObservationId": row["parent_span_id"] or None,
        "type": row["type"],
    }
    if "basic" in groups:
        observation.update(
            name=row["name"],
            level=row["level"],
            statusMessage=row["status_message"],
            version=row["version"],
            environment=row["environment"],
            userId=row["user_id"],
            sessionId=row["session_id"],
            isRootObservation=_is_root(row),
            bookmarked=False,
            public=row["public"],
        )
    if "time" in groups:
        observation.update(
            completionStartTime=iso(completion_start),
            createdAt=iso(row["created_at"]),
            updatedAt=iso(row["created_at"]),
        )
    if "io" in groups:
        observation.update(input=row["input"] or None, output=row["output"] or None)
    if "metadata" in groups:
        observation["metadata"] = _metadata(row, full=query.full_metadata)
    if "model" in groups:
        parameters = row["model_parameters"]
        observation.update(
            model=row["provided_model_name"],
            internalModelId="",
            modelParameters=_parse_json_prioritised(parameters) if parameters else None,
        )
    if "usage" in groups:
        observation.update(_usage(row["usage_details"], row["cost_details"]))
    if "prompt" in groups:
        observation.update(
            promptId="",
            promptName=row["prompt_name"],
            promptVersion=row["prompt_version"] or None,
        )
    if "trace_context" in groups:
        trace_name = row["trace_name"] or (row["name"] if _is_root(row) else "")
        observation.update(traceName=trace_name or None, tags=row["tags"], release=row["release"])
    ttft_selected = "time" in groups or "metrics" in groups
    observation.update(
        latency=(row["end_time"] - start) / 1000,
        timeToFirstToken=(completion_start - start) / 1000
        if ttft_selected and completion_start is not None
        else None,
        modelId=None,
        inputPrice=None,
        outputPrice=None,
        totalPrice=None,
    )
    return observation


def _metadata(row: dict[str, Any], *, full: bool) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for name, value in zip(row["metadata_names"], row["metadata_values"], strict=True):
        if name not in metadata:
            shown = value if full else value[:METADATA_PREVIEW_CHARS]
            metadata[name] = _parse_json_prioritised(shown)
    return metadata


def _parse_json_prioritised(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _usage(usage: dict[str, int], cost: dict[str, float]) -> dict[str, Any]:
    def summed(details: dict[str, float], side: str) -> float | None:
        values = [value for key, value in details.items() if side in key]
        return sum(values) if values else None

    return {
        "usageDetails": usage,
        "inputUsage": summed(usage, "input") or 0,
        "outputUsage": summed(usage, "output") or 0,
        "totalUsage": usage.get("total", 0),
        "costDetails": cost,
        "inputCost": summed(cost, "input"),
        "outputCost": summed(cost, "output"),
        "totalCost": cost.get("total", 0),
        "usagePricingTierId": None,
        "usagePricingTierName": None,
    }
