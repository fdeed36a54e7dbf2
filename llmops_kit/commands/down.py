"""`down [--volumes] [--yes]`: remove the containers; with --volumes, the data too.

Without --volumes every store survives for the next `start`. With it, Langfuse's data and
the callback's spools are deleted, so the user confirms first, seeing how many traces the
spools of every replica (and of replicas removed since) have not delivered yet, or that
this is unknown.
"""

from __future__ import annotations

from pathlib import Path

from rich.prompt import Confirm

from .. import backlog, console
from . import open_project


def confirmed(question: str) -> bool:
    """Ask on the terminal; without one (CI, a pipe) the answer is no."""
    try:
        return Confirm.ask(question, console=console.err, default=False)
    except EOFError:
        console.info("")  # end the prompt's line
        return False


def run(env_file: Path, *, volumes: bool, yes: bool) -> int:
    project = open_project(env_file)
    if volumes:
        console.warn(
            backlog.loss_warning(
                backlog.read_volume(project, replica=backlog.running_proxy(project))
            )
        )
        if not yes and not confirmed(
            f"Delete every volume of project {project.name} (all Langfuse data)?"
        ):
            console.info("nothing removed; pass --yes to delete without the question")
            return console.EXIT_FAILED
    project.down(volumes=volumes)
    if volumes:
        console.success(f"removed project {project.name} and its volumes")
    else:
        console.success(f"removed the containers of {project.name}; volumes and data kept")
    return console.EXIT_OK
