"""`stop`: stop every container and keep them, their data and their volumes."""

from __future__ import annotations

from pathlib import Path

from .. import console
from . import open_project


def run(env_file: Path) -> int:
    project = open_project(env_file)
    project.stop()
    console.success(
        f"stopped project {project.name}; data kept. `python manage_langfuse.py start` resumes it."
    )
    return console.EXIT_OK
