"""The report's raw material: the period it covers, and each generation of that period.

Why paging v2 observations, not v2 metrics: metrics cannot group by user or session, knows
neither the team (key metadata) nor cache tokens, and tops out at 1000 rows. Observations carry
everything; asked for only the field groups the report reads (no input/output; metadata only
when grouping by team) and 1000 to a page, they are read once and aggregated as they stream.

What the callback (callbacks/mapping.py) puts where, and so where it is read back:
- user, session: the observation's userId and sessionId;
- client: the trace name, `<client> / <model group>`;
- model group, fallback depth: the generation's name, `<group>[ (fallback N)][ (retry N)]`,
  or its metadata (`model_group`, `fallback_depth`) when metadata is read;
- team: metadata `team` (the key's team);
- failed: level ERROR; TTFT: completionStartTime - startTime; latency: endTime - startTime.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import ConfigError

NO_VALUE = "(none)"
_NAME = re.compile(r"^(?P<group>.*?)(?: \(fallback (?P<fallback>\d+)\))?(?: \(retry \d+\))?$")
_SINCE = re.compile(r"^(\d+)([hdw])$")
_UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7}


@dataclass(frozen=True)
class Window:
    """A half-open UTC period [start, end)."""

    start: datetime
    end: datetime

    def describe(self) -> str:
        return f"{_text(self.start)} to {_text(self.end)} (UTC)"


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def window(
    since: str | None, date_from: str | None, date_to: str | None, *, now: datetime
) -> Window:
    """--since 7d, or --from DATE --to DATE (whole UTC days, --to included); ConfigError."""
    if since and (date_from or date_to):
        raise ConfigError("give either --since or --from/--to, not both")
    if date_from or date_to:
        if not (date_from and date_to):
            raise ConfigError("--from and --to go together")
        start = _day("--from", date_from)
        end = _day("--to", date_to) + timedelta(days=1)
        if end <= start:
            raise ConfigError(f"--to {date_to} is before --from {date_from}")
        return Window(start, end)
    match = _SINCE.match(since or "7d")
    if not match or int(match[1]) == 0:
        raise ConfigError(
            f"--since {since!r} is not a period", fix="Use hours, days or weeks: 24h, 7d, 4w."
        )
    return Window(now - timedelta(hours=int(match[1]) * _UNIT_HOURS[match[2]]), now)


def _day(option: str, text: str) -> datetime:
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a date", fix="Use YYYY-MM-DD.") from None
    return day.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Generation:
    """One upstream attempt, reduced to what the report counts."""

    trace_id: str
    start: datetime
    user: str
    session: str
    client: str
    team: str
    model_group: str
    model: str
    failed: bool
    fallback: bool
    latency_s: float | None
    ttft_s: float | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    input_cost: float
    output_cost: float
    cache_read_cost: float
    cache_write_cost: float
    cost: float


def fields_for(needs_metadata: bool) -> str:
    """The v2 field groups the report reads."""
    return "core,basic,time,model,usage,trace_context" + (",metadata" if needs_metadata else "")


def generation(item: Mapping[str, Any]) -> Generation:
    """A Generation from one ObservationV2 as the API sends it (camelCase JSON)."""
    metadata: Mapping[str, Any] = item.get("metadata") or {}
    name = _NAME.match(item.get("name") or "")
    model = item.get("model") or ""
    group = str(metadata.get("model_group") or (name and name["group"]) or model)
    depth = metadata.get("fallback_depth", name["fallback"] if name else None)
    start = datetime.fromisoformat(item["startTime"])
    end, first_token = _moment(item.get("endTime")), _moment(item.get("completionStartTime"))
    usage_details = item.get("usageDetails") or {}
    cost_details = item.get("costDetails") or {}
    usage, cost = _parts(usage_details), _parts(cost_details)
    total = cost_details.get("total", item.get("totalCost"))
    return Generation(
        trace_id=item.get("traceId") or item["id"],
        start=start,
        user=item.get("userId") or NO_VALUE,
        session=item.get("sessionId") or NO_VALUE,
        client=(item.get("traceName") or "").split(" / ", 1)[0] or NO_VALUE,
        team=str(metadata.get("team") or NO_VALUE),
        model_group=group or NO_VALUE,
        model=model or NO_VALUE,
        failed=item.get("level") == "ERROR",
        fallback=bool(depth) and str(depth) != "0",
        latency_s=(end - start).total_seconds() if end else None,
        ttft_s=(first_token - start).total_seconds() if first_token else None,
        input_tokens=int(usage["input"]),
        output_tokens=int(usage["output"]),
        cache_read_tokens=int(usage["cache_read"]),
        cache_write_tokens=int(usage["cache_write"]),
        input_cost=cost["input"],
        output_cost=cost["output"],
        cache_read_cost=cost["cache_read"],
        cache_write_cost=cost["cache_write"],
        cost=float(total) if total is not None else sum(cost.values()),
    )


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _parts(details: Mapping[str, float]) -> dict[str, float]:
    """Langfuse usage or cost details summed into input / output / cache read / cache write.

    Keys follow Langfuse's convention: `cache_read_input_tokens` and
    `cache_creation_input_tokens` are the cached parts (named with "input", so they must be
    taken out first), reasoning keys count as output, `total` is left out."""
    parts = dict.fromkeys(("input", "output", "cache_read", "cache_write"), 0.0)
    for key, value in details.items():
        if key == "total" or not isinstance(value, int | float):
            continue
        if "cache_read" in key:
            parts["cache_read"] += value
        elif "cache_creation" in key or "cache_write" in key:
            parts["cache_write"] += value
        elif "input" in key:
            parts["input"] += value
        elif "output" in key:
            parts["output"] += value
    return parts


def generations(pages: Iterator[list[dict[str, Any]]]) -> Iterator[Generation]:
    for page in pages:
        yield from map(generation, page)
