"""Langfuse: web answers, is new enough, accepts the proxy's keys; worker and stores healthy."""

from __future__ import annotations

from ..errors import KitError
from ..langfuse_api import (
    LangfuseKeysRejected,
    LangfuseReader,
    ServerHealth,
    minimum_version_text,
    parse_version,
    server_version_supported,
)
from ..settings import mask
from .containers import containers
from .context import LANGFUSE_WEB_SERVICE, LANGFUSE_WORKER_SERVICE, DoctorContext
from .findings import Finding, Verdicts
from .registry import CheckGroup

group = CheckGroup("langfuse", "Langfuse")

LANGFUSE_TIMEOUT_SECONDS = 10.0


def client(ctx: DoctorContext) -> LangfuseReader:
    """A client with the keys the proxy sends traces with."""
    return LangfuseReader(
        ctx.langfuse_url,
        ctx.settings.get("LANGFUSE_PUBLIC_KEY", ""),
        ctx.settings.get("LANGFUSE_SECRET_KEY", ""),
        timeout=LANGFUSE_TIMEOUT_SECONDS,
    )


def web_health(ctx: DoctorContext) -> ServerHealth:
    def probe() -> ServerHealth:
        with client(ctx) as api:
            return api.health()

    return ctx.remember("langfuse.health", probe)


def _web_fix(ctx: DoctorContext) -> str:
    if ctx.native:
        return (
            f"Start Langfuse, or in {ctx.options.env_path} set LANGFUSE_HOST=<your Langfuse "
            "URL> (the native proxy sends traces there), then restart the native proxy"
        )
    return (
        f"{ctx.kit_command('restart', LANGFUSE_WEB_SERVICE)} (why it failed: "
        f"{ctx.kit_command('logs', LANGFUSE_WEB_SERVICE, '--tail', '50')})"
    )


@group.check(
    "langfuse.web",
    summary="Langfuse web answers `GET /api/public/health` (as this machine reaches it: the "
    "published LANGFUSE_WEB_PORT, or LANGFUSE_HOST for the native proxy)",
    remedy="`python manage_langfuse.py restart langfuse-web`; its logs say why it is down",
)
def web(ctx: DoctorContext, result: Verdicts) -> Finding:
    if not ctx.langfuse_url:
        return result.fail(
            "LANGFUSE_HOST is empty: the proxy has nowhere to send traces",
            f"In {ctx.options.env_path} set LANGFUSE_HOST=<your Langfuse URL>",
        )
    try:
        health = web_health(ctx)
    except KitError as error:
        return result.fail(error.message, _web_fix(ctx))
    if health.status.upper() != "OK":
        return result.fail(
            f"Langfuse at {ctx.langfuse_url} reports status {health.status!r}", _web_fix(ctx)
        )
    return result.ok(f"Langfuse {health.version} at {ctx.langfuse_url} is healthy")


@group.check(
    "langfuse.version",
    summary="the server is Langfuse v4 (FAIL otherwise) and at least "
    f"{minimum_version_text()}, the oldest the pinned `langfuse` SDK 5 supports (WARN otherwise)",
    remedy="upgrade Langfuse: raise the image tags in compose/langfuse.yml, then "
    "`python manage_langfuse.py start`",
    requires=("langfuse.web",),
)
def version(ctx: DoctorContext, result: Verdicts) -> Finding:
    reported = web_health(ctx).version
    supported = server_version_supported(reported)
    if supported is None:
        return result.warn(
            f"Langfuse reports version {reported!r}, which doctor cannot compare",
            f"Make sure the server is Langfuse {minimum_version_text()} or later.",
        )
    if not supported:
        upgrade = (
            f"Upgrade Langfuse to {minimum_version_text()} or later (the image tags in "
            "compose/langfuse.yml, or your Langfuse host)"
        )
        if parse_version(reported) < (4, 0, 0):
            return result.fail(
                f"Langfuse {reported} is not v4: it rejects the proxy's OTLP traces "
                "(x-langfuse-ingestion-version: 4) and lacks the v2 observations API",
                upgrade,
            )
        return result.warn(
            f"Langfuse {reported} is older than {minimum_version_text()}, the oldest server "
            "the pinned `langfuse` SDK 5 supports; reads may work but are unsupported",
            upgrade,
        )
    return result.ok(f"Langfuse {reported} >= {minimum_version_text()}")


def _keys_fix(ctx: DoctorContext) -> str:
    if ctx.native:
        return (
            f"In {ctx.options.env_path} set LANGFUSE_PUBLIC_KEY=pk-lf-... and "
            "LANGFUSE_SECRET_KEY=sk-lf-... to a key pair of your Langfuse project (Settings > "
            "API keys), then restart the native proxy"
        )
    return (
        f"sed -i -e '/^LANGFUSE_PUBLIC_KEY=/d' -e '/^LANGFUSE_SECRET_KEY=/d' "
        f"{ctx.options.env_path} && {ctx.kit_command('init')} && "
        f"{ctx.kit_command('update-config')} (init derives them from "
        "LANGFUSE_INIT_PROJECT_*; if you changed those after the first start, Langfuse kept "
        "the old project keys: create a key pair in Langfuse and set both lines instead)"
    )


@group.check(
    "langfuse.auth",
    summary="Langfuse accepts LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY, the keys the proxy "
    "sends traces with (`GET /api/public/projects`)",
    remedy="make the proxy's keys a pair of the project: in the stack they equal "
    "LANGFUSE_INIT_PROJECT_PUBLIC_KEY/SECRET_KEY (`init` derives them)",
    requires=("langfuse.web",),
)
def auth(ctx: DoctorContext, result: Verdicts) -> Finding:
    public_key = ctx.settings.get("LANGFUSE_PUBLIC_KEY", "")
    if not public_key or not ctx.settings.get("LANGFUSE_SECRET_KEY"):
        return result.fail("LANGFUSE_PUBLIC_KEY or LANGFUSE_SECRET_KEY is empty", _keys_fix(ctx))
    try:
        with client(ctx) as api:
            project = api.auth_check()
    except LangfuseKeysRejected as error:
        return result.fail(error.message, _keys_fix(ctx))
    except KitError as error:
        return result.fail(error.message, _web_fix(ctx))
    return result.ok(f"Langfuse accepts {mask(public_key)} (project {project!r})")


def _service_check(service: str, what: str) -> None:
    """Register the check of one Langfuse service by its container's healthcheck."""

    @group.check(
        f"langfuse.{service.removeprefix('langfuse-')}",
        summary=f"{what} is running and its healthcheck passes",
        remedy=f"`python manage_langfuse.py restart {service}`; "
        f"`python manage_langfuse.py logs {service}` says why it failed",
        docker_only=True,
    )
    def service_health(ctx: DoctorContext, result: Verdicts) -> Finding:
        try:
            container = containers(ctx).get(service)
        except KitError as error:
            return result.skip(
                f"cannot list the containers ({error.message}; see containers.state)"
            )
        logs = ctx.kit_command("logs", service, "--tail", "50")
        if container is None:
            return result.fail(f"{service} has no container", ctx.kit_command("start"))
        if not container.ready:
            return result.fail(
                f"{service} is {container.summary}: Langfuse cannot work without {what}",
                f"{ctx.kit_command('restart', service)} (why it failed: {logs})",
            )
        return result.ok(f"{service} is {container.summary}")


_service_check(
    LANGFUSE_WORKER_SERVICE, "the Langfuse worker (it turns ingested events into traces)"
)
_service_check("postgres", "Postgres (users, projects, keys)")
_service_check("clickhouse", "ClickHouse (traces and observations)")
_service_check("redis", "Redis (the ingestion queue)")
_service_check("minio", "MinIO (S3 storage of raw events)")
