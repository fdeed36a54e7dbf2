"""The CLI's commands, one module each; cli.py parses arguments and calls `run()`.

Every `run()` returns the exit code (0 ok, 1 failed); to end with an error it raises a
KitError, which cli.KitGroup prints as its cause and fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .. import console, settings
from ..compose import ComposeProject, is_routine_progress
from ..console import shown_path as shown_path  # the commands import it from here
from ..errors import UsageError


def open_project(env_file: Path) -> ComposeProject:
    """The compose project of the settings in `env_file`; compose's progress goes to stderr,
    less its routine per-container lines."""
    return ComposeProject(settings.load(env_file), on_output=_show_progress)


def _show_progress(line: str) -> None:
    if not is_routine_progress(line):
        console.info(line)


def warn_about_tracing_environment(values: Mapping[str, str]) -> None:
    """`init` and `config`: say when tracing settings would send no traces."""
    problem = settings.tracing_environment_problem(values)
    if problem:
        console.warn(f"{problem}; correct it in .env")


def require_service(project: ComposeProject, service: str) -> str:
    """`service` if the compose files define it; otherwise a usage error listing the names."""
    services = project.services()
    if service not in services:
        raise UsageError(
            f"there is no service {service!r}", fix=f"Use one of: {', '.join(services)}."
        )
    return service
