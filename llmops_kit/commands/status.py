"""`status`: one row per container (state, health, ports); exit 1 when any is not ready.

A replicated service (the proxy, LLMOPS_PROXY_REPLICAS) shows one row per replica, and the
callback's backlog is shown per replica: each spools to a slot of its own. Spans in slots no
running replica holds (after a scale-down) get a line of their own, when every replica's
slot is known.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import backlog, console, developer_keys, settings
from ..compose import PROXY_SERVICE, ComposeProject, ContainerState, service_state
from ..replicas import replica_number
from . import open_project

NOT_READY_FIX = (
    "  fix: `python manage_langfuse.py start` starts what is stopped; "
    "`python manage_langfuse.py logs SERVICE` shows why a service is unhealthy."
)


def rows(services: list[str], containers: list[ContainerState]) -> list[tuple[str, ...]]:
    table: list[tuple[str, ...]] = []
    for service in services:
        mine = [c for c in containers if c.service == service]
        table += [(_row_name(c, len(mine)), c.state, c.health or "-", c.ports) for c in mine]
        if not mine:
            table.append((service, "not created", "-", ""))
    return table


def _row_name(container: ContainerState, containers_of_service: int) -> str:
    """The service, or `service-n` for replica n of a replicated service."""
    number = replica_number(container.name)
    if containers_of_service == 1 or number is None:
        return container.service
    return f"{container.service}-{number}"


def backlog_lines(project: ComposeProject, containers: list[ContainerState]) -> list[str]:
    """The backlog of each running proxy: one line, or one per replica when there are more."""
    proxies = [c for c in containers if c.service == PROXY_SERVICE and c.state == "running"]
    if not proxies:
        return []
    if len(proxies) == 1:
        own = {"": backlog.read(project)}
    else:
        own = {
            f"{_row_name(c, len(proxies))}: ": backlog.read(project, replica=replica_number(c.name))
            for c in proxies
        }
    lines = [name + backlog.describe(read) for name, read in own.items()]
    held = [read.spool for read in own.values()]
    if None in held:
        return lines  # a replica's slot is unknown: its spans would pass for orphaned ones
    unheld = backlog.unheld(backlog.read_volume(project), held)
    return lines if unheld is None else [*lines, unheld]


def run(env_file: Path) -> int:
    project = open_project(env_file)
    services = project.services()
    containers = project.ps()
    console.table(
        f"Project {project.name}",
        ("service", "state", "health", "ports"),
        rows(services, containers),
    )
    failing = [s for s in services if not service_state(s, containers)[1]]
    for line in backlog_lines(project, containers):
        console.info(line)
    budgets = developer_keys.budget_summary(settings.load(env_file, validate=False), os.environ)
    if budgets is not None:
        console.info(budgets)
    if failing:
        console.info(f"not ready: {', '.join(failing)}")
        console.info(NOT_READY_FIX)
        return console.EXIT_FAILED
    return console.EXIT_OK
