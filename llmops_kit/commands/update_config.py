"""`update-config`: validate litellm_config.yml, then recreate only the proxy and wait for it.

An invalid config stops here with its cause, and so does one the proxy could not load (a
typo in a callback, `custom_auth` or an `os.environ/` reference: config_load_check.py): no
container is touched, so the running proxy keeps serving with the config it has. Only a
running proxy is recreated: `--no-deps` would otherwise start it without the database it
needs.
"""

from __future__ import annotations

from pathlib import Path

from .. import console, service_health
from ..compose import PROXY_SERVICE, proxy_config_file, service_state
from ..config_load_check import check_config_loads
from ..errors import KitError
from ..litellm_config import validate_config
from . import open_project, shown_path


def run(env_file: Path, *, timeout: float) -> int:
    project = open_project(env_file)
    config = proxy_config_file(project.settings)
    validated = validate_config(config, project.settings)
    check_config_loads(config, project.settings)
    for warning in validated.warnings:
        console.warn(warning)
    state, ready = service_state(PROXY_SERVICE, project.ps())
    if not ready:
        raise KitError(
            f"{PROXY_SERVICE} is {state}: there is no running proxy to update",
            fix="Run `python manage_langfuse.py start`; it reads the config as it starts.",
        )
    console.success(
        f"{shown_path(config)} is valid ({', '.join(validated.model_groups)}); "
        f"recreating {PROXY_SERVICE}"
    )
    project.up([PROXY_SERVICE], no_deps=True, force_recreate=True)
    service_health.wait_healthy(project, [PROXY_SERVICE], timeout=timeout)
    console.success(f"{PROXY_SERVICE} runs the new config and is healthy")
    return console.EXIT_OK
