"""`status`: one row per service (state, health, ports); exit 1 when any is not ready."""

from __future__ import annotations

import os
from pathlib import Path

from .. import backlog, console, developer_keys, settings
from ..compose import PROXY_SERVICE, ContainerState, service_state
from . import open_project

NOT_READY_FIX = (
    "  fix: `python manage_langfuse.py start` starts what is stopped; "
    "`python manage_langfuse.py logs SERVICE` shows why a service is unhealthy."
)


def rows(services: list[str], containers: list[ContainerState]) -> list[tuple[str, ...]]:
    table: list[tuple[str, ...]] = []
    for service in services:
        mine = [c for c in containers if c.service == service]
        table += [(service, c.state, c.health or "-", c.ports) for c in mine]
        if not mine:
            table.append((service, "not created", "-", ""))
    return table


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
    if PROXY_SERVICE not in failing:
        console.info(backlog.describe(backlog.read(project)))
    budgets = developer_keys.budget_summary(settings.load(env_file, validate=False), os.environ)
    if budgets is not None:
        console.info(budgets)
    if failing:
        console.info(f"not ready: {', '.join(failing)}")
        console.info(NOT_READY_FIX)
        return console.EXIT_FAILED
    return console.EXIT_OK
