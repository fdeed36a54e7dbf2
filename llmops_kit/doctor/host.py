"""This machine: ports held by something that is not ours, disk space, the Docker engine and
its memory, compose v2 and whether the compose files resolve. `start` runs these before it
starts anything (doctor/preflight.py), so their thresholds are the kit's only ones."""

from __future__ import annotations

import errno
import re
import shutil
import socket
from pathlib import Path

import httpx

from ..compose import COMPOSE_V2_FIX, ComposeProject
from ..errors import ComposeError, ConfigError, KitError
from ..settings import REPO_ROOT
from .context import DoctorContext
from .engine import compose_version, engine_error, probe_engine
from .findings import Finding, Verdicts
from .registry import CheckGroup

group = CheckGroup("host", "This machine")

GIB = 1024**3
MIN_MEMORY_BYTES = 4 * GIB  # Langfuse's documented minimum for web, worker and the stores
MIN_FREE_DISK_BYTES = 10 * GIB  # images, ClickHouse and Postgres data: below it, WARN
DISK_FAIL_BYTES = 2 * GIB  # below this Postgres and ClickHouse stop writing
PORT_VARIABLES = ("LANGFUSE_WEB_PORT", "LITELLM_PORT", "MINIO_S3_PORT")
# How to recognise our own service on a port that is in use: path, and text in the answer.
SERVICE_PROBES = {
    "LITELLM_PORT": ("LiteLLM proxy", "/health/liveliness", "alive"),
    "LANGFUSE_WEB_PORT": ("Langfuse web", "/api/public/health", "status"),
    "MINIO_S3_PORT": ("MinIO", "/minio/health/live", ""),
}
FREE_PORT_SEARCH = 50


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
            if any(_fd_target(fd) in inodes for fd in fd_dir.iterdir()):
                pid = fd_dir.parent.name
                name = (fd_dir.parent / "comm").read_text().strip()
                return f"{name} (pid {pid})"
        except OSError:  # the process ended meanwhile
            continue
    return None


def _fd_target(fd: Path) -> str:
    """What a descriptor points to; "" when it was closed between listing and reading (a busy
    process, the listener among them, opens and closes descriptors all the time)."""
    try:
        return str(fd.readlink())
    except OSError:
        return ""


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


def _answers_as(ctx: DoctorContext, address: str, port: int, variable: str) -> bool:
    _, path, needle = SERVICE_PROBES[variable]
    try:
        response = ctx.http.get(f"http://{address}:{port}{path}", timeout=3.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and needle in response.text


def _free_port_after(address: str, port: int) -> int | None:
    for candidate in range(port + 1, min(port + FREE_PORT_SEARCH, 65535)):
        try:
            if port_is_free(address, candidate):
                return candidate
        except OSError:
            return None
    return None


def _ours(ctx: DoctorContext) -> set[int]:
    return set() if ctx.native else ports_held_by(ctx.project)


def _taken(ctx: DoctorContext, address: str, port: int, variable: str) -> tuple[str, str]:
    """A port held by a stranger: who holds it, and the `.env` line (or kill) that frees it."""
    service = SERVICE_PROBES[variable][0]
    holder = port_holder(port) or "another process"
    free = _free_port_after(address, port)
    line = f"{variable}={free}" if free else f"{variable}=<a free port>"
    pid = re.search(r"pid (\d+)", holder)
    stop = f"; or stop {holder}" + (f": `kill {pid[1]}`" if pid else "")
    return (
        f"port {address}:{port} ({variable}) is held by {holder}, which does not answer "
        f"like the {service}",
        f"In {ctx.options.env_path} set {line}{stop}",
    )


@group.check(
    "host.ports",
    summary="the published ports (LITELLM_PORT, LANGFUSE_WEB_PORT, MINIO_S3_PORT) are free "
    "or held by the kit's own services",
    remedy="stop the process that holds the port, or set the port variable in `.env` to a "
    "free port (doctor names one)",
)
def ports(ctx: DoctorContext, result: Verdicts) -> Finding:
    address = ctx.settings.get("BIND_ADDRESS") or "127.0.0.1"
    probe_address = "127.0.0.1" if address in ("0.0.0.0", "::") else address
    variables = ("LITELLM_PORT",) if ctx.native else PORT_VARIABLES
    ours = _ours(ctx)
    checked: list[str] = []
    taken: list[tuple[str, str]] = []  # (what holds which port, how to free it)
    for variable in variables:
        try:
            port = ctx.settings.int(variable)
        except ConfigError as error:
            return result.skip(f"{error.message} (see env.shapes)")
        checked.append(f"{variable}={port}")
        try:
            if port in ours or port_is_free(address, port):
                continue
        except OSError as error:
            return result.fail(
                f"cannot bind {address}:{port}: {error.strerror}",
                f"In {ctx.options.env_path} set BIND_ADDRESS=127.0.0.1 (an address of this "
                "machine).",
            )
        if not _answers_as(ctx, probe_address, port, variable):
            taken.append(_taken(ctx, address, port, variable))
    if taken:
        return result.fail("; ".join(m for m, _ in taken), "; ".join(f for _, f in taken))
    return result.ok(f"{', '.join(checked)}: free or held by the kit's own services")


@group.check(
    "host.disk",
    summary="free disk space where Docker keeps its data (or the repository, natively): "
    f"WARN under {MIN_FREE_DISK_BYTES // GIB} GiB (Docker only), "
    f"FAIL under {DISK_FAIL_BYTES // GIB} GiB",
    remedy="`docker system prune` removes unused images and build cache; or move Docker's "
    "data-root to a larger disk",
)
def disk(ctx: DoctorContext, result: Verdicts) -> Finding:
    where = REPO_ROOT
    if not ctx.native:
        engine = ctx.remember("engine", probe_engine)
        if engine.data_root and Path(engine.data_root).exists():
            where = Path(engine.data_root)
    free = shutil.disk_usage(where).free
    shown = f"{free / GIB:.1f} GiB free on {where}"
    fix = "docker system prune (removes unused images and build cache), or free space on that disk"
    if free < DISK_FAIL_BYTES:
        return result.fail(f"{shown}: Postgres and ClickHouse stop writing when it runs out", fix)
    if free < MIN_FREE_DISK_BYTES and not ctx.native:
        return result.warn(f"{shown}; the stack wants {MIN_FREE_DISK_BYTES // GIB} GiB", fix)
    return result.ok(shown)


@group.check(
    "host.docker",
    summary="the Docker engine answers",
    remedy="start Docker (`sudo systemctl start docker`, or Docker Desktop); or run doctor "
    "with `--native` for the native proxy",
    docker_only=True,
)
def docker_engine(ctx: DoctorContext, result: Verdicts) -> Finding:
    engine = ctx.remember("engine", probe_engine)
    error = engine_error(engine)
    if error is not None:
        return result.fail(error.message, error.fix or "")
    return result.ok(f"Docker {engine.version}")


@group.check(
    "host.memory",
    summary=f"Docker may use at least {MIN_MEMORY_BYTES // GIB} GiB of memory",
    remedy="give Docker more memory (Docker Desktop: Settings > Resources) or use a larger machine",
    requires=("host.docker",),
    docker_only=True,
)
def memory(ctx: DoctorContext, result: Verdicts) -> Finding:
    engine = ctx.remember("engine", probe_engine)
    if not engine.memory_bytes:
        return result.skip("`docker info` does not say how much memory Docker may use")
    shown = f"Docker has {engine.memory_bytes / GIB:.1f} GiB of memory"
    if engine.memory_bytes < MIN_MEMORY_BYTES:
        return result.fail(
            f"{shown}; Langfuse needs at least {MIN_MEMORY_BYTES // GIB} GiB",
            "Give Docker more memory (Docker Desktop: Settings > Resources) or use a larger "
            "machine.",
        )
    return result.ok(shown)


@group.check(
    "host.compose",
    summary="`docker compose` is compose v2",
    remedy="install the compose v2 plugin (`docker-compose-plugin`, or a binary in "
    "~/.docker/cli-plugins/)",
    docker_only=True,
)
def compose(ctx: DoctorContext, result: Verdicts) -> Finding:
    version = ctx.remember("compose.version", compose_version)
    if version is None:
        return result.fail("`docker compose` (compose v2) is not available", COMPOSE_V2_FIX)
    major = version.split(".")[0]
    if not major.isdigit() or int(major) < 2:
        return result.fail(f"compose {version} is too old; the kit needs v2", COMPOSE_V2_FIX)
    return result.ok(f"compose {version}")


@group.check(
    "host.compose_config",
    summary="the compose files resolve with the settings in `.env` (`docker compose config`)",
    remedy="run `python manage_langfuse.py init`, then correct what compose's message names",
    requires=("host.compose",),
    docker_only=True,
)
def compose_config(ctx: DoctorContext, result: Verdicts) -> Finding:
    try:
        model = ctx.project.config()
    except ValueError:
        return result.fail(
            "`docker compose config --format json` printed no JSON model",
            "Update the compose v2 plugin (`docker compose version`): the kit reads its JSON.",
        )
    except KitError as error:
        detail = error.stderr if isinstance(error, ComposeError) else error.message
        lines = detail.strip().splitlines() or ["no output"]
        return result.fail(
            f"compose cannot resolve the stack: {ctx.redact(lines[-1])}",
            error.fix or "Run `python manage_langfuse.py init`, then correct what the line names.",
        )
    return result.ok(f"{len(model.get('services') or {})} services resolve")
