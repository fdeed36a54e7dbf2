"""This machine: ports held by something that is not ours, disk space, the Docker engine."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx

from ..errors import ConfigError
from ..preflight import (
    GIB,
    MIN_FREE_DISK_BYTES,
    MIN_MEMORY_BYTES,
    PORT_VARIABLES,
    check_engine,
    check_memory,
    port_holder,
    port_is_free,
    ports_held_by,
    probe_engine,
)
from ..settings import REPO_ROOT
from .context import DoctorContext
from .findings import Finding, Verdicts
from .registry import CheckGroup

group = CheckGroup("host", "This machine")

DISK_FAIL_BYTES = 2 * GIB  # below this Postgres and ClickHouse stop writing
# How to recognise our own service on a port that is in use: path, and text in the answer.
SERVICE_PROBES = {
    "LITELLM_PORT": ("LiteLLM proxy", "/health/liveliness", "alive"),
    "LANGFUSE_WEB_PORT": ("Langfuse web", "/api/public/health", "status"),
    "MINIO_S3_PORT": ("MinIO", "/minio/health/live", ""),
}
FREE_PORT_SEARCH = 50


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
    checked = []
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
        if _answers_as(ctx, probe_address, port, variable):
            continue
        service = SERVICE_PROBES[variable][0]
        holder = port_holder(port) or "another process"
        free = _free_port_after(address, port)
        line = f"{variable}={free}" if free else f"{variable}=<a free port>"
        pid = re.search(r"pid (\d+)", holder)
        stop = f"; or stop {holder}" + (f": `kill {pid[1]}`" if pid else "")
        return result.fail(
            f"port {address}:{port} ({variable}) is held by {holder}, which does not answer "
            f"like the {service}",
            f"In {ctx.options.env_path} set {line}{stop}",
        )
    return result.ok(f"{', '.join(checked)}: free or held by the kit's own services")


@group.check(
    "host.disk",
    summary="free disk space where Docker keeps its data (or the repository, natively)",
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
    problem = check_engine(engine)
    if problem is not None:
        return result.fail(problem.message, problem.fix)
    return result.ok(f"Docker {engine.version}")


@group.check(
    "host.memory",
    summary=f"Docker may use at least {MIN_MEMORY_BYTES // GIB} GiB of memory, as `start` requires",
    remedy="give Docker more memory (Docker Desktop: Settings > Resources) or use a larger machine",
    requires=("host.docker",),
    docker_only=True,
)
def memory(ctx: DoctorContext, result: Verdicts) -> Finding:
    engine = ctx.remember("engine", probe_engine)
    problem = check_memory(engine)
    if problem is not None:
        return result.fail(problem.message, problem.fix)
    if not engine.memory_bytes:
        return result.skip("`docker info` does not say how much memory Docker may use")
    return result.ok(f"Docker has {engine.memory_bytes / GIB:.1f} GiB of memory")
