"""`init`: create or complete `.env` with fresh secrets, keeping every value already set."""

from __future__ import annotations

from pathlib import Path

from .. import console, settings
from . import warn_about_tracing_environment


def run(env_file: Path) -> int:
    result = settings.init_env(env_file)
    if result.created:
        console.success(f"wrote {env_file} (mode 0600) with {len(result.added)} values")
    elif result.added:
        console.success(f"added {', '.join(result.added)} to {env_file}")
    else:
        console.success(f"{env_file} is complete; nothing changed")
    warn_about_tracing_environment(settings.read_env_file(env_file))
    return console.EXIT_OK
