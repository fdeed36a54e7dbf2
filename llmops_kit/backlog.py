"""How much trace data the proxy's callback has not delivered to Langfuse yet.

The spool lives in a volume inside the proxy container, so it is read there, by the
callback's own health reader (callbacks/spool_health.py, standard library only), through
`docker compose exec`. When that is impossible (proxy stopped, no spool yet, an older
image), the backlog is reported as unknown with the reason: never guessed as zero.

`status` reads each running replica's own slot; what deleting the volume loses is the sum
over every spool in it (`read_volume`, one exec): the other replicas' slots and the slots
a scale-down left behind, which the adopters may not have drained yet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .compose import PROXY_SERVICE, ComposeProject
from .errors import ComposeError, KitError
from .replicas import replica_number

HEALTH_COMMAND = ("python3", "/app/config/callbacks/spool_health.py")
VOLUME_HEALTH_COMMAND = (*HEALTH_COMMAND, "--all")
NOT_UNDERSTOOD = "the health reader's answer was not understood"


@dataclass(frozen=True)
class Backlog:
    """Undelivered spans in the spool, or (spans None) why that is unknown."""

    spans: int | None
    spool: str | None = None
    oldest_age_seconds: float | None = None
    last_error: str | None = None
    in_doubt_spans: int = 0
    in_doubt_check_error: str | None = None
    dropped_events: int = 0
    unknown_because: str = ""


@dataclass(frozen=True)
class VolumeBacklog:
    """Undelivered spans summed over every spool of the volume, or (spans None) why that is
    unknown. Spools are named by their path in the volume (`replica-0/spool.db`)."""

    spans: int | None
    volume: str = ""
    spools: int = 0
    waiting: Mapping[str, int] = field(default_factory=dict)
    unreadable: tuple[str, ...] = ()
    unknown_because: str = ""


def _ask(project: ComposeProject, command: tuple[str, ...], index: int | None) -> Any:
    """The health reader's JSON answer; KitError with a one-line reason when there is none."""
    try:
        return json.loads(project.exec(PROXY_SERVICE, command, index=index))
    except ComposeError as error:
        lines = error.stderr.strip().splitlines()
        raise KitError(lines[-1] if lines else f"exit {error.returncode}") from None
    except ValueError:
        raise KitError(NOT_UNDERSTOOD) from None


def read(project: ComposeProject, *, replica: int | None = None) -> Backlog:
    """The spool's backlog, as the callback's health reader reports it; of one replica's
    spool slot when `replica` names it (1, 2, ...)."""
    try:
        report = _ask(project, HEALTH_COMMAND, replica)
        return Backlog(
            spans=int(report["backlog_spans"]),
            spool=report.get("spool"),
            oldest_age_seconds=report.get("oldest_age_seconds"),
            last_error=report.get("last_error"),
            in_doubt_spans=int(report.get("in_doubt_spans") or 0),
            in_doubt_check_error=report.get("in_doubt_check_error"),
            dropped_events=int(report.get("dropped_events") or 0),
        )
    except KitError as error:
        return Backlog(None, unknown_because=error.message)
    except (ValueError, KeyError, TypeError):
        return Backlog(None, unknown_because=NOT_UNDERSTOOD)


def read_volume(project: ComposeProject, *, replica: int | None = None) -> VolumeBacklog:
    """The backlog of every spool in the spool volume (every replica's slot, orphaned slots,
    a spool from before slots), read in one exec in a running proxy container (`replica`,
    else compose's first)."""
    try:
        report = _ask(project, VOLUME_HEALTH_COMMAND, replica)
        spans = {name: int(health["backlog_spans"]) for name, health in report["spools"].items()}
        unreadable = report["unreadable"].items()
        return VolumeBacklog(
            spans=sum(spans.values()),
            volume=str(report["volume"]),
            spools=len(spans) + len(unreadable),
            waiting={name: count for name, count in spans.items() if count},
            unreadable=tuple(f"{name} ({reason})" for name, reason in unreadable),
        )
    except KitError as error:
        return VolumeBacklog(None, unknown_because=error.message)
    except (ValueError, KeyError, TypeError, AttributeError):
        return VolumeBacklog(None, unknown_because=NOT_UNDERSTOOD)


def running_proxy(project: ComposeProject) -> int | None:
    """A running proxy replica to read the spools in: compose's exec takes replica 1, which
    may be the one that is down. None (compose's choice) when there is none or ps fails."""
    try:
        containers = project.ps()
    except KitError:
        return None
    running = [c for c in containers if c.service == PROXY_SERVICE and c.state == "running"]
    numbers = [replica_number(c.name) for c in running]
    return min((n for n in numbers if n is not None), default=None)


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def describe(backlog: Backlog) -> str:
    """One line for `status`."""
    if backlog.spans is None:
        return f"callback backlog: unknown ({backlog.unknown_because})"
    if backlog.spans == 0:
        line = "callback backlog: 0 spans; everything was delivered to Langfuse"
    else:
        line = f"callback backlog: {backlog.spans} spans waiting for Langfuse"
        if backlog.oldest_age_seconds is not None:
            line += f", oldest {_age(backlog.oldest_age_seconds)}"
        if backlog.last_error:
            line += f"; last error: {backlog.last_error}"
    if backlog.in_doubt_check_error:
        line += (
            f"; {backlog.in_doubt_spans} spans sent without an answer wait for Langfuse's "
            f"read API to confirm them ({backlog.in_doubt_check_error})"
        )
    if backlog.dropped_events:
        line += (
            f"; {backlog.dropped_events} requests were never traced (the proxy's queue to its "
            "delivery process was full)"
        )
    return line


def unheld(volume: VolumeBacklog, held: list[str | None]) -> str | None:
    """For `status`: the spans in spools no running replica spools to (`held`, their
    paths), which a scale-down or a restart left for the adopters; None when there are none."""
    left = {
        name: count
        for name, count in volume.waiting.items()
        if f"{volume.volume}/{name}" not in held
    }
    if not left:
        return None
    shown = ", ".join(f"{name} ({count})" for name, count in left.items())
    return (
        f"callback backlog of spools no running replica holds: {sum(left.values())} spans "
        f"waiting for Langfuse in {shown}; the proxies' adopters deliver them"
    )


def loss_warning(backlog: VolumeBacklog) -> str:
    """What deleting the volumes would lose, for `down --volumes`."""
    if backlog.spans is None:
        return (
            f"the callback's backlog is unknown ({backlog.unknown_because}); any traces not "
            "yet delivered to Langfuse are deleted with the volumes"
        )
    if backlog.spools == 0:
        return "the callback has no spool yet: no trace waits for Langfuse"
    if backlog.spans == 0 and not backlog.unreadable:
        return f"the callback's spools are empty ({backlog.spools}): every trace reached Langfuse"
    line = (
        f"the callback's spools still hold {backlog.spans} undelivered spans, in "
        f"{len(backlog.waiting)} of {backlog.spools} spools ({', '.join(backlog.waiting)})"
        if backlog.spans
        else f"{backlog.spools - len(backlog.unreadable)} of the callback's spools are empty"
    )
    if backlog.unreadable:
        line += (
            f"; {len(backlog.unreadable)} could not be read, their spans are not counted: "
            + "; ".join(backlog.unreadable)
        )
    return line + "; deleting the volumes loses them"
