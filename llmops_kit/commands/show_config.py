"""`config`: the resolved settings (process environment > .env > default), secrets masked."""

from __future__ import annotations

from pathlib import Path

from .. import console, settings
from . import warn_about_tracing_environment


def run(env_file: Path) -> int:
    resolved = settings.load(env_file, validate=False)
    console.table(
        f"Settings from {env_file} and the environment",
        ("variable", "value"),
        ((v.name, resolved.display(v.name)) for v in settings.VARIABLES),
    )
    warn_about_tracing_environment(resolved)
    return console.EXIT_OK
