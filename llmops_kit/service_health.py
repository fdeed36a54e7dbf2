"""Waiting until the stack's services are healthy, with progress a person can follow.

A terminal gets one live line per service; a log or CI gets a plain line each time a
service's state changes. When the wait runs out, HealthTimeout names every service that is
not ready and carries its last log lines, so the cause is on screen without a second command.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from . import console
from .compose import ComposeProject, ContainerState, service_state
from .errors import HealthTimeout, KitError

DEFAULT_TIMEOUT_SECONDS = 300.0  # Langfuse web takes 2 to 3 minutes on a cold start
POLL_SECONDS = 2.0
LOG_LINES_ON_TIMEOUT = 20


class Display(Protocol):
    def show(self, service: str, state: str, ready: bool) -> None: ...


class _PlainDisplay:
    """One line per change: readable in CI logs and when piped."""

    def __init__(self) -> None:
        self._last: dict[str, str] = {}

    def show(self, service: str, state: str, ready: bool) -> None:
        if self._last.get(service) != state:
            self._last[service] = state
            console.info(f"{service}: {state}")


class _LiveDisplay:
    """A spinner per service that turns into a tick once the service is ready."""

    def __init__(self, progress: Progress, services: Sequence[str]) -> None:
        self._progress = progress
        self._tasks = {
            name: progress.add_task(name, total=1, service=name, state="waiting")
            for name in services
        }

    def show(self, service: str, state: str, ready: bool) -> None:
        self._progress.update(self._tasks[service], state=state, completed=int(ready))


@contextmanager
def _display(services: Sequence[str]) -> Iterator[Display]:
    if not console.interactive():
        yield _PlainDisplay()
        return
    width = max(len(name) for name in services)
    progress = Progress(
        SpinnerColumn(finished_text="[green]✔[/green]"),
        TextColumn(f"{{task.fields[service]:<{width}}}"),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
        console=console.err,
    )
    with progress:
        yield _LiveDisplay(progress, services)


def wait_healthy(
    project: ComposeProject,
    services: Sequence[str] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    poll: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[ContainerState]:
    """Wait until every service (all of the project's by default) is running and healthy.

    Returns the containers' final state; raises HealthTimeout when `timeout` runs out.
    """
    expected = list(services) if services else project.services()
    deadline = clock() + timeout
    with _display(expected) as display:
        while True:
            containers = project.ps()
            pending: list[tuple[str, str]] = []
            for service in expected:
                state, ready = service_state(service, containers)
                display.show(service, state, ready)
                if not ready:
                    pending.append((service, state))
            if not pending:
                return containers
            if clock() >= deadline:
                break
            sleep(poll)
    raise timeout_error(project, pending, timeout)


def timeout_error(
    project: ComposeProject, pending: Sequence[tuple[str, str]], timeout: float
) -> HealthTimeout:
    """HealthTimeout naming the services and showing each one's last log lines."""
    named = ", ".join(f"{service} ({state})" for service, state in pending)
    lines = [f"not healthy after {timeout:g} s: {named}"]
    for service, _ in pending:
        lines.append(f"last {LOG_LINES_ON_TIMEOUT} log lines of {service}:")
        try:
            logs = list(project.logs([service], tail=LOG_LINES_ON_TIMEOUT))
        except KitError as error:  # the logs are a courtesy; the timeout is the news
            logs = [f"(logs unavailable: {error.message.splitlines()[0]})"]
        lines += [f"  {line}" for line in logs] or ["  (no output)"]
    first = pending[0][0]
    return HealthTimeout(
        "\n  ".join(lines),
        fix=f"Read the full log with `python manage_langfuse.py logs {first}`; "
        "a slow machine may need a longer --timeout.",
    )
