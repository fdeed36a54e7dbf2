"""Checks run before `start` touches anything: each failure is one cause and its fix.

Every check runs, so the user sees all problems at once instead of fixing them one start at
a time. Checks never raise; they return Problems. Nothing here creates a container.
"""

from __future__ import annotations

import errno
import json
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .compose import (
    COMPOSE_V2_FIX,
    DOCKER_INSTALL_FIX,
    ENGINE_FIX,
    SOCKET_PERMISSION_FIX,
    ComposeProject,
    PortBinding,
    published_ports,
)
from .config_load_check import check_config_loads
from .errors import ComposeError, ConfigError, KitError
from .litellm_config import ValidatedConfig, validate_config
from .settings import Settings

GIB = 1024**3
MIN_MEMORY_BYTES = 4 * GIB  # Langfuse's documented minimum for web, worker and the stores
MIN_FREE_DISK_BYTES = 10 * GIB  # images, ClickHouse and Postgres data
DOCKER_TIMEOUT_SECONDS = 20.0
PORT_VARIABLES = ("LANGFUSE_WEB_PORT", "LITELLM_PORT", "MINIO_S3_PORT")


@dataclass(frozen=True)
class Problem:
    """One failed check: what is wrong (with what was measured) and how to fix it."""

    check: str
    message: str
    fix: str


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


def check_engine(engine: Engine) -> Problem | None:
    if not engine.error:
        return None
    if "was not found" in engine.error:
        return Problem("docker", f"Docker is not installed: {engine.error}", DOCKER_INSTALL_FIX)
    fix = SOCKET_PERMISSION_FIX if "permission denied" in engine.error.lower() else ENGINE_FIX
    return Problem("engine", f"the Docker engine is not reachable: {engine.error}", fix)


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


def check_compose(version: str | None) -> Problem | None:
    if version is None:
        return Problem("compose", "`docker compose` (compose v2) is not available", COMPOSE_V2_FIX)
    if not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 2:
        return Problem("compose", f"compose {version} is too old; the kit needs v2", COMPOSE_V2_FIX)
    return None


def port_is_free(address: str, port: int) -> bool:
    """True when `address:port` can be bound now, as Docker will try to."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Docker's proxy sets SO_REUSEADDR too: a port in TIME_WAIT is not taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def port_holder(port: int, proc: Path = Path("/proc")) -> str | None:
    """Which process listens on `port` ("nginx (pid 812)"), when Linux's /proc tells."""
    inodes = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            rows = (proc / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for fd_dir in proc.glob("[0-9]*/fd"):
        try:
            if any(str(fd.readlink()) in inodes for fd in fd_dir.iterdir()):
                pid = fd_dir.parent.name
                name = (fd_dir.parent / "comm").read_text().strip()
                return f"{name} (pid {pid})"
        except OSError:
            continue
    return None


def check_compose_files(project: ComposeProject) -> tuple[list[PortBinding], Problem | None]:
    """The compose files resolve with these settings; returns the ports they publish."""
    try:
        return published_ports(project.config()), None
    except KitError as error:
        detail = error.stderr if isinstance(error, ComposeError) else error.message
        lines = detail.strip().splitlines() or ["no output"]
        return [], Problem(
            "compose files",
            f"compose cannot resolve the stack: {lines[-1]}",
            error.fix or "Run `python manage_langfuse.py init`, then correct what the line names.",
        )


def check_ports(bindings: list[PortBinding], settings: Settings, ours: set[int]) -> list[Problem]:
    """Each published port must be free, unless this project's own containers hold it."""
    problems: list[Problem] = []
    for binding in bindings:
        named = [n for n in PORT_VARIABLES if settings.get(n) == str(binding.port)]
        where = f"{binding.host_ip}:{binding.port}"
        label = f"{binding.service}, {named[0]}" if named else binding.service
        fix_setting = f"set {named[0]} to a free port" if named else "change the port"
        try:
            if binding.port in ours or port_is_free(binding.host_ip, binding.port):
                continue
        except OSError as error:
            problems.append(
                Problem(
                    "ports",
                    f"cannot bind {where} ({label}): {error.strerror}",
                    f"Set BIND_ADDRESS in {settings.env_path} to an address of this machine "
                    "(127.0.0.1 by default).",
                )
            )
            continue
        holder = port_holder(binding.port)
        problems.append(
            Problem(
                "ports",
                f"port {where} ({label}) is already taken" + (f" by {holder}" if holder else ""),
                f"Stop what holds it, or {fix_setting} in {settings.env_path}.",
            )
        )
    return problems


def check_memory(engine: Engine) -> Problem | None:
    if not engine.memory_bytes or engine.memory_bytes >= MIN_MEMORY_BYTES:
        return None
    return Problem(
        "memory",
        f"Docker has {engine.memory_bytes / GIB:.1f} GiB of memory; "
        f"Langfuse needs at least {MIN_MEMORY_BYTES // GIB} GiB",
        "Give Docker more memory (Docker Desktop: Settings > Resources) or use a larger machine.",
    )


def check_disk(engine: Engine) -> Problem | None:
    """Free space on Docker's data root; skipped when that is not on this machine."""
    if not engine.data_root or not Path(engine.data_root).exists():
        return None
    free = shutil.disk_usage(engine.data_root).free
    if free >= MIN_FREE_DISK_BYTES:
        return None
    return Problem(
        "disk",
        f"{free / GIB:.1f} GiB free on {engine.data_root} (Docker's data root); "
        f"the stack needs at least {MIN_FREE_DISK_BYTES // GIB} GiB",
        "Free space (`docker system prune` removes unused images and build cache) "
        "or move Docker's data-root to a larger disk.",
    )


def check_litellm_config(
    config: Path, settings: Settings
) -> tuple[ValidatedConfig | None, Problem | None]:
    try:
        validated = validate_config(config, settings)
        check_config_loads(config, settings)
        return validated, None
    except ConfigError as error:
        return None, Problem("config", error.message, error.fix or f"Correct {config}.")


def ports_held_by(project: ComposeProject) -> set[int]:
    """Host ports this project's containers publish already (a second `start` is fine)."""
    try:
        return {
            p.published_port
            for container in project.ps()
            if container.state == "running"
            for p in container.publishers
        }
    except KitError:
        return set()


@dataclass(frozen=True)
class Report:
    """Every problem found, and what was measured (printed when there is none)."""

    problems: tuple[Problem, ...]
    measured: str
    config: ValidatedConfig | None


def run_checks(project: ComposeProject, config: Path) -> Report:
    """All checks, in the order a user would fix them."""
    settings = project.settings
    engine = probe_engine(project.docker)
    compose = compose_version(project.docker)
    bindings, compose_problem = check_compose_files(project) if compose else ([], None)
    validated, config_problem = check_litellm_config(config, settings)
    found = [
        check_engine(engine),
        check_compose(compose),
        compose_problem,
        *check_ports(bindings, settings, ports_held_by(project) if not engine.error else set()),
        check_memory(engine),
        check_disk(engine),
        config_problem,
    ]
    problems = tuple(p for p in found if p is not None)
    return Report(problems, measured(engine, compose), validated)


def measured(engine: Engine, compose: str | None) -> str:
    parts = [f"Docker {engine.version}", f"compose {compose}"]
    if engine.memory_bytes:
        parts.append(f"{engine.memory_bytes / GIB:.1f} GiB memory")
    if engine.data_root and Path(engine.data_root).exists():
        free = shutil.disk_usage(engine.data_root).free
        parts.append(f"{free / GIB:.0f} GiB free on {engine.data_root}")
    return ", ".join(parts)
