"""The stack's containers: running, healthy, not restarting in a loop, not killed for memory.

Also the shared look-ups other groups use: the container list (`compose ps`, once per
run) and `docker inspect` of the containers (restart counts, OOM kills, environment).
A service may have several containers (the proxy's replicas, LLMOPS_PROXY_REPLICAS): those
are named by container, every other one by its service.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from typing import Any

import httpx

from ..compose import PROXY_SERVICE, ContainerState
from ..errors import DockerError, KitError
from ..replicas import replica_count
from .context import DoctorContext
from .engine import engine_error, probe_engine
from .findings import Finding, Verdicts
from .registry import CheckGroup

group = CheckGroup("containers", "Containers")

INSPECT_TIMEOUT_SECONDS = 20
RESTARTS_FAIL = 3
STARTING_NOTE = "Langfuse web takes 2 to 3 minutes on a cold start"


def project_containers(ctx: DoctorContext) -> list[ContainerState]:
    """Every container of the project (once per run); raises a KitError with a fix."""

    def probe() -> list[ContainerState]:
        error = engine_error(ctx.remember("engine", probe_engine))
        if error is not None:
            raise error
        return ctx.project.ps()

    return ctx.remember("containers", probe)


def containers(ctx: DoctorContext) -> dict[str, ContainerState]:
    """One container per service (of the proxy's replicas, the last); KitError with a fix."""
    return {c.service: c for c in project_containers(ctx)}


def _labels(found: list[ContainerState]) -> dict[str, str]:
    """Container name -> how findings name it: the service, or the container's own name when
    its service has several (replicas)."""
    per_service = {c.service: sum(o.service == c.service for o in found) for c in found}
    return {c.name: c.service if per_service[c.service] == 1 else c.name for c in found}


def native_proxy_only(ctx: DoctorContext) -> bool:
    """True when the compose project has no container (or Docker is absent) while a proxy
    answers on LITELLM_PORT: a native proxy (`manage_langfuse.py proxy`), which the container
    checks would report as a stack that is down."""
    try:
        if containers(ctx):
            return False
    except KitError:
        pass  # no engine or no compose: no stack either
    try:
        return ctx.http.get(f"{ctx.proxy_url}/health/liveliness").status_code == 200
    except httpx.HTTPError:
        return False


def inspected_by_label(ctx: DoctorContext) -> dict[str, Mapping[str, Any]]:
    """`docker inspect` of every container, by label (once per run)."""

    def probe() -> dict[str, Mapping[str, Any]]:
        labels = _labels(project_containers(ctx))
        if not labels:
            return {}
        done = subprocess.run(
            [ctx.project.docker, "inspect", *labels],
            capture_output=True,
            text=True,
            timeout=INSPECT_TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise DockerError(f"`docker inspect` failed: {ctx.redact(done.stderr.strip())}")
        return {labels[item["Name"].lstrip("/")]: item for item in json.loads(done.stdout)}

    return ctx.remember("inspect", probe)


def inspected(ctx: DoctorContext) -> dict[str, Mapping[str, Any]]:
    """`docker inspect` of one container per service (of the replicas, the last)."""
    labels = _labels(project_containers(ctx))
    by_label = inspected_by_label(ctx)
    return {c.service: by_label[labels[c.name]] for c in containers(ctx).values()}


def container_environment(ctx: DoctorContext, service: str) -> dict[str, str] | None:
    """The environment a service's container was created with, or None without one."""
    item = inspected(ctx).get(service)
    if item is None:
        return None
    pairs = (entry.split("=", 1) for entry in item.get("Config", {}).get("Env") or ())
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def _logs_command(ctx: DoctorContext, service: str) -> str:
    return ctx.kit_command("logs", service, "--tail", "50")


@group.check(
    "containers.state",
    summary="every service of the compose project has a running container",
    remedy="`python manage_langfuse.py start` starts what is missing; "
    "`python manage_langfuse.py logs SERVICE` shows why one exited",
    docker_only=True,
)
def state(ctx: DoctorContext, result: Verdicts) -> Finding:
    try:
        found = containers(ctx)
        expected = ctx.project.services()
    except KitError as error:
        return result.fail(error.message, error.fix or ctx.kit_command("start"))
    if not found:
        return result.fail(
            f"no container of project {ctx.project.name!r} exists: the stack is not started",
            ctx.kit_command("start"),
        )
    missing = [s for s in expected if s not in found]
    # A one-shot job (e.g. creating the MinIO bucket) that exited 0 did its work.
    everyone = project_containers(ctx)
    labels = _labels(everyone)
    stopped = [
        c
        for c in everyone
        if c.state != "running" and not (c.state == "exited" and c.exit_code == 0)
    ]
    if missing or stopped:
        parts = [f"{labels[c.name]} is {c.summary}" for c in stopped]
        parts += [f"{s} has no container" for s in missing]
        first = stopped[0].service if stopped else missing[0]
        return result.fail(
            "; ".join(parts),
            f"{ctx.kit_command('start')} (to see why {first} stopped: {_logs_command(ctx, first)})",
        )
    return result.ok(f"{len(everyone)} containers up: {', '.join(sorted(labels.values()))}")


@group.check(
    "containers.health",
    summary="every container with a healthcheck reports healthy",
    remedy="read the unhealthy service's logs (`python manage_langfuse.py logs SERVICE`), "
    "fix the cause, then `python manage_langfuse.py restart SERVICE`",
    requires=("containers.state",),
    docker_only=True,
)
def health(ctx: DoctorContext, result: Verdicts) -> Finding:
    everyone = project_containers(ctx)
    labels = _labels(everyone)
    running = [c for c in everyone if c.state == "running"]
    unhealthy = [labels[c.name] for c in running if c.health == "unhealthy"]
    starting = [labels[c.name] for c in running if c.health == "starting"]
    if unhealthy:
        return result.fail(
            f"unhealthy: {', '.join(unhealthy)}",
            f"{_logs_command(ctx, unhealthy[0])}, then {ctx.kit_command('restart', unhealthy[0])}",
        )
    if starting:
        return result.warn(
            f"still starting: {', '.join(starting)} ({STARTING_NOTE})",
            f"Wait, then run doctor again; if it stays so: {_logs_command(ctx, starting[0])}",
        )
    return result.ok(f"{len(running)} running containers healthy (or without a healthcheck)")


@group.check(
    "containers.restarts",
    summary="no container restarts in a loop (Docker's restart count)",
    remedy="a restart loop is a crash on start: `python manage_langfuse.py logs SERVICE` "
    "names the cause",
    requires=("containers.state",),
    docker_only=True,
)
def restarts(ctx: DoctorContext, result: Verdicts) -> Finding:
    counts = {
        label: int(item.get("RestartCount") or 0) for label, item in inspected_by_label(ctx).items()
    }
    restarted = {service: n for service, n in counts.items() if n}
    if not restarted:
        return result.ok("no container has restarted")
    worst = max(restarted, key=restarted.__getitem__)
    shown = ", ".join(f"{s} {n}x" for s, n in sorted(restarted.items()))
    if restarted[worst] >= RESTARTS_FAIL:
        return result.fail(f"restart loop: {shown}", _logs_command(ctx, worst))
    return result.warn(f"restarted: {shown}", _logs_command(ctx, worst))


@group.check(
    "containers.oom",
    summary="no container was killed for running out of memory",
    remedy="give Docker more memory (Docker Desktop: Settings > Resources) or use a larger "
    "machine; Langfuse needs at least 4 GiB",
    requires=("containers.state",),
    docker_only=True,
)
def oom(ctx: DoctorContext, result: Verdicts) -> Finding:
    killed = sorted(
        label
        for label, item in inspected_by_label(ctx).items()
        if (item.get("State") or {}).get("OOMKilled")
    )
    if killed:
        return result.fail(
            f"killed for lack of memory: {', '.join(killed)}",
            "Give Docker at least 4 GiB (Docker Desktop: Settings > Resources), then "
            f"{ctx.kit_command('restart', killed[0])}",
        )
    return result.ok("no container was killed for lack of memory")


@group.check(
    "containers.replicas",
    summary="as many proxy replicas run healthy as LLMOPS_PROXY_REPLICAS says",
    remedy="`python manage_langfuse.py start` creates or removes replicas to match the "
    "setting; `python manage_langfuse.py logs litellm` shows why one is not healthy",
    requires=("containers.state",),
    docker_only=True,
)
def replicas(ctx: DoctorContext, result: Verdicts) -> Finding:
    wanted = replica_count(ctx.settings)
    proxies = [c for c in project_containers(ctx) if c.service == PROXY_SERVICE]
    ready = [c for c in proxies if c.ready]
    shown = ", ".join(f"{c.name} {c.summary}" for c in proxies) or "none"
    if len(ready) == wanted == len(proxies):
        return result.ok(f"{wanted} of {wanted} replicas healthy: {shown}")
    fix = ctx.kit_command("start")
    if not ready:
        return result.fail(f"no proxy replica is healthy (wanted {wanted}): {shown}", fix)
    return result.warn(f"{len(ready)} of {wanted} replicas healthy: {shown}", fix)
