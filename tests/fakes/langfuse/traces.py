"""A trace as Langfuse v4 shows it: aggregated from its events rows, never stored as such.

Self-hosted v4 serves no public trace route (GET /api/public/traces is v3's), so the stand-in
shows the aggregate on its control API (`/_fake/traces/{id}`), computed as the UI's trace view
computes it (EVENTS_AGGREGATION_FIELDS in packages/shared/src/server/queries/clickhouse-sql/
event-query-builder.ts): each trace field is the value of the LATEST event that has one
(`argMaxIf(x, event_ts, x <> '')`); tags are the latest non-empty tag list, not a union; input
and output are the latest root observation's; cost is the sum over every observation. Rows
are passed in arrival order, which stands for `event_ts` (the time Langfuse wrote the row).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .observations_api import iso


def trace_view(rows: Sequence[dict[str, Any]], trace_id: str) -> dict[str, Any] | None:
    """The aggregated trace, or None when no row of it is readable yet."""
    events = [row for row in rows if row["trace_id"] == trace_id]
    if not events:
        return None

    def latest(column: str, where: Callable[[dict[str, Any]], bool] = bool) -> Any:
        matching = [row[column] for row in events if where(row)]
        return matching[-1] if matching else None

    def has(column: str) -> Callable[[dict[str, Any]], bool]:
        return lambda row: bool(row[column])

    def is_root(row: dict[str, Any]) -> bool:
        return row["parent_span_id"] == ""

    root_name = latest("name", lambda row: (is_root(row) or row["is_app_root"]) and row["name"])
    return {
        "id": trace_id,
        "name": latest("trace_name", has("trace_name")) or root_name,
        "timestamp": iso(min(row["start_time"] for row in events)),
        "environment": latest("environment", has("environment")),
        "sessionId": latest("session_id", has("session_id")),
        "userId": latest("user_id", has("user_id")),
        "tags": latest("tags", has("tags")) or [],
        "input": latest("input", is_root) or None,
        "output": latest("output", is_root) or None,
        "totalCost": sum(row["cost_details"].get("total", 0) for row in events),
        "observationCount": len({row["id"] for row in events}),
    }
