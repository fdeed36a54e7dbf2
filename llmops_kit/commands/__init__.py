"""The stack's lifecycle commands, one module each; cli.py parses arguments and calls `run()`.

Every `run()` returns the exit code (0 ok, 1 failed) and reports a KitError as its cause and
fix, so the output is the same under `manage_langfuse.py` and typer's test runner.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec

from .. import console, settings
from ..compose import ComposeProject, is_routine_progress
from ..console import shown_path as shown_path  # the commands import it from here
from ..errors import KitError

P = ParamSpec("P")


def reports_errors(command: Callable[P, int]) -> Callable[P, int]:
    """A KitError ends the command with its cause, its fix and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return command(*args, **kwargs)
        except KitError as error:
            console.fail(error)

    return wrapper


def open_project(env_file: Path) -> ComposeProject:
    """The compose project of the settings in `env_file`; compose's progress goes to stderr,
    less its routine per-container lines."""
    return ComposeProject(settings.load(env_file), on_output=_show_progress)


def _show_progress(line: str) -> None:
    if not is_routine_progress(line):
        console.info(line)


def require_service(project: ComposeProject, service: str) -> str:
    """`service` if the compose files define it; otherwise a usage error listing the names."""
    services = project.services()
    if service not in services:
        console.abort(
            f"there is no service {service!r}",
            console.EXIT_USAGE,
            fix=f"Use one of: {', '.join(services)}.",
        )
    return service
