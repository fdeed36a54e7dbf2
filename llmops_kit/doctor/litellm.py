"""The LiteLLM proxy: its config is valid, it is alive and ready, and it takes the master key.

Never LiteLLM's `/health`: that endpoint calls every configured model on Bedrock, which
costs money on every doctor run. Liveliness, readiness and `/v1/models` cost nothing.
"""

from __future__ import annotations

import httpx

from ..compose import PROXY_SERVICE
from ..config_load_check import check_config_loads
from ..errors import KitError
from ..litellm_config import ValidatedConfig, validate_config
from ..proxy import proxy_environment
from ..settings import mask
from .containers import container_environment
from .context import DoctorContext
from .findings import Finding, Verdicts
from .registry import CheckGroup

group = CheckGroup("litellm", "LiteLLM proxy")


def validated_config(ctx: DoctorContext) -> ValidatedConfig:
    return ctx.remember("litellm.config", lambda: validate_config(ctx.config_path, ctx.settings))


def _restart_fix(ctx: DoctorContext) -> str:
    if ctx.native:
        port = ctx.settings.get("LITELLM_PORT", "4000")
        return f"Start the native proxy: python manage_langfuse.py proxy --port {port}"
    return (
        f"{ctx.kit_command('restart', PROXY_SERVICE)} (why it failed: "
        f"{ctx.kit_command('logs', PROXY_SERVICE, '--tail', '50')})"
    )


def _get(ctx: DoctorContext, path: str, *, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return ctx.http.get(f"{ctx.proxy_url}{path}", headers=headers)


@group.check(
    "litellm.config",
    summary="litellm_config.yml loads with LiteLLM's own loader, every route is priced and "
    "offered by BEDROCK_PROFILE_PREFIX in AWS_REGION, every fallback target exists",
    remedy="correct the file as the message says; `python manage_langfuse.py update-config` "
    "then applies it",
)
def config(ctx: DoctorContext, result: Verdicts) -> Finding:
    environ = proxy_environment(ctx.settings, ctx.environ) if ctx.native else ctx.settings
    try:
        validated = validated_config(ctx)
        check_config_loads(ctx.config_path, environ)
    except KitError as error:
        return result.fail(error.message, error.fix or f"Correct {ctx.config_path}.")
    if validated.warnings:
        return result.warn(
            "; ".join(validated.warnings),
            f"Move those groups to a current model id in {ctx.config_path}.",
        )
    return result.ok(
        f"{ctx.config_path.name}: {len(validated.routes)} model groups "
        f"({', '.join(validated.model_groups)})"
    )


@group.check(
    "litellm.liveliness",
    summary="the proxy answers `GET /health/liveliness` on LITELLM_PORT",
    remedy="`python manage_langfuse.py restart litellm` (or start the native proxy); its logs "
    "name the cause, often an invalid config or a callback that fails to import",
)
def liveliness(ctx: DoctorContext, result: Verdicts) -> Finding:
    try:
        response = _get(ctx, "/health/liveliness")
    except httpx.HTTPError as error:
        return result.fail(
            f"no proxy answers at {ctx.proxy_url} ({type(error).__name__})", _restart_fix(ctx)
        )
    if response.status_code != 200:
        return result.fail(
            f"{ctx.proxy_url}/health/liveliness answered HTTP {response.status_code}",
            _restart_fix(ctx),
        )
    return result.ok(f"the proxy at {ctx.proxy_url} is alive")


@group.check(
    "litellm.readiness",
    summary="the proxy answers `GET /health/readiness` with status healthy",
    remedy="wait for the proxy to finish starting; if it stays unready, read its logs",
    requires=("litellm.liveliness",),
)
def readiness(ctx: DoctorContext, result: Verdicts) -> Finding:
    response = _get(ctx, "/health/readiness")
    try:
        status = response.json().get("status") if response.status_code == 200 else None
    except ValueError:
        status = None
    if status != "healthy":
        return result.fail(
            f"/health/readiness answered HTTP {response.status_code} ({status or 'no status'})",
            _restart_fix(ctx),
        )
    return result.ok("the proxy is ready")


def _master_key_fix(ctx: DoctorContext) -> str:
    if ctx.native:
        return (
            "The native proxy was started with another LITELLM_MASTER_KEY: restart it so it "
            f"reads {ctx.options.env_path}, or in {ctx.options.env_path} set "
            "LITELLM_MASTER_KEY=<the key it was started with>"
        )
    return (
        f"{ctx.kit_command('update-config')} (recreates the proxy with the key in "
        f"{ctx.options.env_path})"
    )


def _container_key_note(ctx: DoctorContext) -> str:
    if ctx.native:
        return ""
    try:
        environment = container_environment(ctx, PROXY_SERVICE) or {}
    except KitError:
        return ""
    running = environment.get("LITELLM_MASTER_KEY", "")
    if running and running != ctx.settings.get("LITELLM_MASTER_KEY"):
        return f"; the {PROXY_SERVICE} container runs with {mask(running)}"
    return ""


@group.check(
    "litellm.master_key",
    summary="the proxy accepts LITELLM_MASTER_KEY from `.env` (`GET /v1/models`)",
    remedy="the proxy runs with another key: `python manage_langfuse.py update-config` "
    "recreates it with the key in `.env`",
    requires=("litellm.liveliness",),
)
def master_key(ctx: DoctorContext, result: Verdicts) -> Finding:
    key = ctx.settings.get("LITELLM_MASTER_KEY", "")
    if not key:
        return result.fail("LITELLM_MASTER_KEY is empty", ctx.kit_command("init"))
    response = _get(ctx, "/v1/models", key=key)
    if response.status_code in (401, 403):
        return result.fail(
            f"the proxy rejects LITELLM_MASTER_KEY={mask(key)} (HTTP {response.status_code})"
            + _container_key_note(ctx),
            _master_key_fix(ctx),
        )
    if response.status_code != 200:
        return result.fail(
            f"GET /v1/models answered HTTP {response.status_code}", _restart_fix(ctx)
        )
    return result.ok(f"the proxy accepts LITELLM_MASTER_KEY={mask(key)}")


@group.check(
    "litellm.models",
    summary="the running proxy serves every model group of litellm_config.yml",
    remedy="the proxy runs an older config: `python manage_langfuse.py update-config` (or "
    "restart the native proxy)",
    requires=("litellm.config", "litellm.master_key"),
)
def models(ctx: DoctorContext, result: Verdicts) -> Finding:
    response = _get(ctx, "/v1/models", key=ctx.settings.get("LITELLM_MASTER_KEY", ""))
    served = {item.get("id") for item in response.json().get("data", [])}
    missing = [name for name in validated_config(ctx).model_groups if name not in served]
    if missing:
        fix = (
            "Restart the native proxy so it loads the config again"
            if ctx.native
            else ctx.kit_command("update-config")
        )
        return result.fail(
            f"the running proxy does not serve {', '.join(missing)} from {ctx.config_path.name}",
            fix,
        )
    return result.ok(f"the proxy serves {', '.join(sorted(n for n in served if n))}")
