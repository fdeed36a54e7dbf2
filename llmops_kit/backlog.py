"""How much trace data the proxy's callback has not delivered to Langfuse yet.

The spool lives in a volume inside the proxy container, so it is read there, by the
callback's own health reader (callbacks/spool_health.py, standard library only), through
`docker compose exec`. When that is impossible (proxy stopped, no spool yet, an older
image), the backlog is reported as unknown with the reason: never guessed as zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .compose import PROXY_SERVICE, ComposeProject
from .errors import ComposeError, KitError

HEALTH_COMMAND = ("python3", "/app/config/callbacks/spool_health.py")


@dataclass(frozen=True)
class Backlog:
    """Undelivered spans in the spool, or (spans None) why that is unknown."""

    spans: int | None
    oldest_age_seconds: float | None = None
    last_error: str | None = None
    in_doubt_spans: int = 0
    in_doubt_check_error: str | None = None
    dropped_events: int = 0
    unknown_because: str = ""


def read(project: ComposeProject, *, replica: int | None = None) -> Backlog:
    """The spool's backlog, as the callback's health reader reports it; of one replica's
    spool slot when `replica` names it (1, 2, ...)."""
    try:
        report = json.loads(project.exec(PROXY_SERVICE, HEALTH_COMMAND, index=replica))
        return Backlog(
            spans=int(report["backlog_spans"]),
            oldest_age_seconds=report.get("oldest_age_seconds"),
            last_error=report.get("last_error"),
            in_doubt_spans=int(report.get("in_doubt_spans") or 0),
            in_doubt_check_error=report.get("in_doubt_check_error"),
            dropped_events=int(report.get("dropped_events") or 0),
        )
    except ComposeError as error:
        lines = error.stderr.strip().splitlines()
        return Backlog(None, unknown_because=lines[-1] if lines else f"exit {error.returncode}")
    except KitError as error:
        return Backlog(None, unknown_because=error.message)
    except (ValueError, KeyError, TypeError):
        return Backlog(None, unknown_because="the health reader's answer was not understood")


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


def loss_warning(backlog: Backlog) -> str:
    """What deleting the volumes would lose, for `down --volumes`."""
    if backlog.spans is None:
        return (
            f"the callback's backlog is unknown ({backlog.unknown_because}); any traces not "
            "yet delivered to Langfuse are deleted with the volumes"
        )
    if backlog.spans == 0:
        return "the callback's spool is empty: every trace reached Langfuse"
    return (
        f"the callback's spool still holds {backlog.spans} undelivered spans; "
        "deleting the volumes loses them"
    )
