"""`restart [SERVICE]`: restart one service (or all) and wait until it is healthy again."""

from __future__ import annotations

from pathlib import Path

from .. import console, service_health
from . import open_project, require_service


def run(env_file: Path, service: str | None, *, timeout: float) -> int:
    project = open_project(env_file)
    services = [require_service(project, service)] if service else []
    project.restart(services)
    service_health.wait_healthy(project, services or None, timeout=timeout)
    console.success(f"restarted {service or 'every service'}; healthy")
    return console.EXIT_OK
