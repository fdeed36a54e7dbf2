"""What this machine's Docker says about itself: `docker info` and `docker compose version`.

Probes only; the verdicts on what they return are the `host.*` checks. The container
checks use `engine_error` to fail with the same cause and fix as `host.docker`.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from ..compose import DOCKER_INSTALL_FIX, ENGINE_FIX, SOCKET_PERMISSION_FIX
from ..errors import DockerError

DOCKER_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class Engine:
    """What `docker info` says about the engine; `error` is set when it is unreachable."""

    error: str = ""
    version: str = ""
    memory_bytes: int = 0
    data_root: str = ""


def probe_engine(docker: str = "docker") -> Engine:
    try:
        done = subprocess.run(
            [docker, "info", "--format", "{{json .}}"],
            capture_output=True,
            text=True,
            timeout=DOCKER_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        return Engine(error=f"`{docker}` was not found")
    except subprocess.TimeoutExpired:
        return Engine(error=f"`{docker} info` got no answer in {DOCKER_TIMEOUT_SECONDS:g} s")
    info = _json_object(done.stdout)
    server_errors = info.get("ServerErrors") or []
    if done.returncode != 0 or server_errors or not info.get("ServerVersion"):
        reasons = [*server_errors, *done.stderr.strip().splitlines()]
        return Engine(error=reasons[0] if reasons else f"`{docker} info` failed")
    return Engine(
        version=info["ServerVersion"],
        memory_bytes=int(info.get("MemTotal") or 0),
        data_root=info.get("DockerRootDir") or "",
    )


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def engine_error(engine: Engine) -> DockerError | None:
    """Why the engine cannot be used, with the fix; None when it answers."""
    if not engine.error:
        return None
    if "was not found" in engine.error:
        return DockerError(f"Docker is not installed: {engine.error}", fix=DOCKER_INSTALL_FIX)
    fix = SOCKET_PERMISSION_FIX if "permission denied" in engine.error.lower() else ENGINE_FIX
    return DockerError(f"the Docker engine is not reachable: {engine.error}", fix=fix)


def compose_version(docker: str = "docker") -> str | None:
    """The compose plugin's version ("2.40.3"), or None when `docker compose` is missing."""
    try:
        done = subprocess.run(
            [docker, "compose", "version", "--short"],
            capture_output=True,
            text=True,
            timeout=DOCKER_TIMEOUT_SECONDS,
            check=False,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip().lstrip("v") if done.returncode == 0 else None
