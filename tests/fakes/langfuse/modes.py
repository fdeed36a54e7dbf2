"""How the stand-in behaves right now: normal, a black hole, or answering errors.

- normal: answers like Langfuse.
- blackhole: every /api/ request is accepted and never answered (the control API under /_fake/
  keeps answering); the connection stays open until the client gives up.
- error: the OTLP ingestion endpoint answers `status` (429, 500, 503...) the way Langfuse or the
  proxy in front of it would, with Retry-After when `retry_after` is set.

`store=True` (blackhole or error) keeps the spans first and only then hangs or fails: the
acknowledgement is lost although the data arrived, the case exactly-once delivery must survive.
`count` limits the mode to the next `count` OTLP requests, then the stand-in is normal again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

NORMAL = "normal"
BLACKHOLE = "blackhole"
ERROR = "error"
MODES = (NORMAL, BLACKHOLE, ERROR)


@dataclass(frozen=True)
class Mode:
    name: str = NORMAL
    status: int = 503
    retry_after: int | None = None
    count: int | None = None
    store: bool = False

    def __post_init__(self) -> None:
        if self.name not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.name!r}")
        if not 400 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {self.status}")
        if self.count is not None and self.count < 1:
            raise ValueError(f"count must be at least 1, got {self.count}")

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Mode:
        known = {"mode", "status", "retry_after", "count", "store"}
        if unknown := set(body) - known:
            raise ValueError(f"unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(
            name=body.get("mode", NORMAL),
            status=int(body.get("status", 503)),
            retry_after=None if body.get("retry_after") is None else int(body["retry_after"]),
            count=None if body.get("count") is None else int(body["count"]),
            store=bool(body.get("store", False)),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.name,
            "status": self.status,
            "retry_after": self.retry_after,
            "count": self.count,
            "store": self.store,
        }


class ModeSwitch:
    """The current mode; `for_export()` hands it to one OTLP request and counts it down."""

    def __init__(self, mode: Mode) -> None:
        self.current = mode

    def for_export(self) -> Mode:
        mode = self.current
        if mode.count is not None:
            remaining = mode.count - 1
            self.current = replace(mode, count=remaining) if remaining else Mode()
        return mode
