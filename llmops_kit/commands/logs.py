"""`logs [SERVICE] [-f] [--tail N]`: the containers' logs, secrets masked."""

from __future__ import annotations

from pathlib import Path

from .. import console
from . import open_project, require_service


def run(env_file: Path, service: str | None, *, follow: bool, tail: int | None) -> int:
    project = open_project(env_file)
    services = [require_service(project, service)] if service else []
    try:
        for line in project.logs(services, follow=follow, tail=tail):
            console.out.print(line, markup=False, emoji=False)
    except KeyboardInterrupt:  # the way out of --follow
        pass
    return console.EXIT_OK
