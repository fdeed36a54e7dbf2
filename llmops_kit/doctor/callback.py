"""The proxy's callbacks: they import the way LiteLLM imports them, and the spool drains.

The spools are read with the callback's own reader (callbacks/spool_health.py): natively from
LLMOPS_SPOOL_DIR, in the stack inside a proxy container, where the spool volume is, every
replica's slot (and the slots a scale-down left behind) in one exec.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..backlog import VOLUME_HEALTH_COMMAND, running_proxy
from ..compose import PROXY_SERVICE
from ..errors import KitError
from ..litellm_config import callbacks_module
from ..proxy import proxy_environment
from ..settings import REPO_ROOT
from .context import PYTHON, DoctorContext
from .findings import Finding, Verdicts
from .registry import CheckGroup

group = CheckGroup("callback", "The proxy's callbacks")

IMPORT_TIMEOUT_SECONDS = 180
CONTAINER_CONFIG = "/app/config/litellm_config.yml"
EXPORTER_CALLBACK = "callbacks.langfuse_v4.handler"
BACKLOG_WARN_SECONDS = 60
# Runs with the proxy's Python (natively, or in a fresh proxy container): LiteLLM's own loader.
IMPORT_SCRIPT = """
import json, sys
from litellm.proxy.types_utils.utils import get_instance_fn
failed = {}
for name in sys.argv[2:]:
    try:
        get_instance_fn(name, sys.argv[1])
    except BaseException as error:
        cause = error.__cause__ or error
        failed[name] = type(cause).__name__ + ": " + str(cause)
print(json.dumps(failed))
"""


def configured_callbacks(config: Path) -> list[str]:
    """Every `callbacks.<module>.<name>` the config makes LiteLLM load."""
    document = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    litellm_settings = document.get("litellm_settings") or {}
    names: list[Any] = [(document.get("general_settings") or {}).get("custom_auth")]
    for key in ("callbacks", "success_callback", "failure_callback"):
        value = litellm_settings.get(key) or []
        names += value if isinstance(value, list) else [value]
    return [n for n in dict.fromkeys(names) if isinstance(n, str) and n.startswith("callbacks.")]


def _import_failures(ctx: DoctorContext, names: list[str]) -> dict[str, str]:
    """name -> error, from a separate process that cannot disturb the real spool."""
    with tempfile.TemporaryDirectory(prefix="llmops-doctor-") as scratch:
        if ctx.native:
            config_dir = ctx.config_path.parent
            if not (config_dir / "callbacks").is_dir():
                config_dir = REPO_ROOT
            env = {**proxy_environment(ctx.settings, ctx.environ), "LLMOPS_SPOOL_DIR": scratch}
            argv = [sys.executable, "-c", IMPORT_SCRIPT, str(config_dir / "x.yml"), *names]
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env=env,
                cwd=scratch,
                timeout=IMPORT_TIMEOUT_SECONDS,
                check=False,
            )
            output, error = done.stdout, done.stderr
        else:
            args = ["run", "--rm", "--no-deps", "-T", "--entrypoint", PYTHON]
            args += ["-e", f"LLMOPS_SPOOL_DIR={scratch}", PROXY_SERVICE]
            output = ctx.project.run(
                [*args, "-c", IMPORT_SCRIPT, CONTAINER_CONFIG, *names],
                timeout=IMPORT_TIMEOUT_SECONDS,
            )
            error = ""
    try:
        return json.loads(output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = ctx.redact((error or output).strip()[-300:])
        return {name: f"the loader itself failed: {tail}" for name in names}


@group.check(
    "callback.import",
    summary="every callback in litellm_config.yml imports with LiteLLM's own loader (in the "
    "proxy's image, or the native proxy's Python), the Langfuse exporter among them",
    remedy="fix the import error the message names (a typo, or a package the LiteLLM image "
    "lacks: callbacks may use only the standard library and what the image ships)",
)
def imports(ctx: DoctorContext, result: Verdicts) -> Finding:
    try:
        names = configured_callbacks(ctx.config_path)
    except (OSError, yaml.YAMLError) as error:
        return result.skip(f"cannot read the config ({type(error).__name__}; see litellm.config)")
    try:
        failures = _import_failures(ctx, names) if names else {}
    except (KitError, subprocess.TimeoutExpired) as error:
        fix = (
            f"{sys.executable} -c 'import litellm' shows why LiteLLM cannot load here"
            if ctx.native
            else ctx.kit_command("logs", PROXY_SERVICE, "--tail", "50")
        )
        reason = getattr(error, "message", type(error).__name__)
        return result.fail(f"cannot run LiteLLM's loader: {reason}", fix)
    if failures:
        shown = "; ".join(f"{name}: {error}" for name, error in failures.items())
        first = next(iter(failures))
        module = "/".join(first.split(".")[:-1]) + ".py"
        return result.fail(
            f"LiteLLM cannot load {shown}; the proxy does not start with it",
            f"Fix the import in {module}, or remove {first} from {ctx.config_path}",
        )
    if EXPORTER_CALLBACK not in names:
        return result.warn(
            f"{len(names)} callbacks load, but not {EXPORTER_CALLBACK}: requests are not traced",
            f"Add {EXPORTER_CALLBACK} to litellm_settings.callbacks in {ctx.config_path}",
        )
    return result.ok(f"{len(names)} callbacks load: {', '.join(names)}")


def spool_health(ctx: DoctorContext) -> dict[str, Any]:
    """Every spool's health report (once per run), as `spool_health.py --all` writes it:
    each replica's slot and the slots a scale-down left behind. KitError when there is none."""

    def read() -> dict[str, Any]:
        if ctx.native:
            where = proxy_environment(ctx.settings, ctx.environ)["LLMOPS_SPOOL_DIR"]
            try:
                report = callbacks_module("spool_health").read_volume_health(Path(where))
            except FileNotFoundError:
                report = {"spools": {}, "unreadable": {}}
        else:
            where = "the spool volume"
            replica = running_proxy(ctx.project)
            report = json.loads(
                ctx.project.exec(PROXY_SERVICE, VOLUME_HEALTH_COMMAND, index=replica)
            )
        if not report["spools"] and not report["unreadable"]:
            raise KitError(f"no spool in {where} yet: the proxy has traced no request")
        return report

    return ctx.remember("callback.spool", read)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _read_or_skip(ctx: DoctorContext, result: Verdicts) -> dict[str, Any] | Finding:
    try:
        return spool_health(ctx)
    except (KitError, ValueError, KeyError, TypeError) as error:
        reason = ctx.redact(getattr(error, "message", type(error).__name__))
        return result.skip(f"cannot read the spool: {reason[:300]}")


def _total(reports: dict[str, dict[str, Any]], field: str) -> int:
    return sum(int(report.get(field) or 0) for report in reports.values())


def _where(reports: dict[str, dict[str, Any]], name: str) -> str:
    """`name: ` before a spool's figures when there is more than one spool to tell apart."""
    return f"{name}: " if len(reports) > 1 else ""


@group.check(
    "callback.spool",
    summary="the callback's spool holds no old backlog and nothing was dropped (its size cap, "
    "or the proxy's queue to its delivery process)",
    remedy="a growing backlog means delivery fails (see callback.delivery); drops mean the "
    "cap was reached: raise LLMOPS_SPOOL_MAX_MB in `.env`; requests never traced: the "
    "proxy's log says why its delivery process stopped",
)
def spool(ctx: DoctorContext, result: Verdicts) -> Finding:
    volume = _read_or_skip(ctx, result)
    if isinstance(volume, Finding):
        return volume
    reports: dict[str, dict[str, Any]] = volume["spools"]
    backlog = _total(reports, "backlog_spans")
    dropped = _total(reports, "dropped_spans")
    ages = [r.get("oldest_age_seconds") for r in reports.values()]
    oldest = max((age for age in ages if age is not None), default=None)
    untraced = _total(reports, "dropped_events")
    holding = [name for name, report in reports.items() if report.get("backlog_spans")]
    within = f" in {', '.join(holding)}" if len(reports) > 1 and holding else ""
    if untraced:
        return result.fail(
            f"{untraced} requests were never traced: the proxy's queue to its delivery process "
            "was full (the delivery process down or far behind)",
            f"{ctx.kit_command('logs', PROXY_SERVICE, '--tail', '200')} shows why the delivery "
            "process stopped (its lines start with `llmops delivery`)",
        )
    if dropped:
        return result.fail(
            f"the spool dropped {dropped} spans (its size cap was reached while Langfuse was "
            "unreachable)",
            f"In {ctx.options.env_path} set LLMOPS_SPOOL_MAX_MB=<a larger cap>, and fix what "
            "stops delivery (callback.delivery)",
        )
    if backlog and oldest is not None and oldest > BACKLOG_WARN_SECONDS:
        return result.warn(
            f"{backlog} spans waiting{within}, the oldest for {_age(oldest)}",
            "See callback.delivery for why they are not delivered",
        )
    if volume["unreadable"]:
        shown = "; ".join(f"{name}: {reason}" for name, reason in volume["unreadable"].items())
        return result.warn(
            f"{backlog} spans waiting in the spools read; cannot read {ctx.redact(shown)}",
            f"{ctx.kit_command('logs', PROXY_SERVICE, '--tail', '200')} shows what holds or "
            "damaged that spool",
        )
    since = f"the {len(reports)} spools were" if len(reports) > 1 else "the spool was"
    return result.ok(
        f"{backlog} spans waiting{within}; {_total(reports, 'delivered')} delivered since "
        f"{since} created"
    )


_REFUSED_KEYS = re.compile(r"\b(401|403)\b|unauthor|rejected|forbidden", re.IGNORECASE)


def _delivery_fix(ctx: DoctorContext, error: str) -> str:
    # Status codes as whole words: a port such as :40371 must not read as a 403.
    if _REFUSED_KEYS.search(error):
        return "Langfuse refuses the keys: apply the fix of langfuse.auth"
    where = ctx.settings.get("LANGFUSE_HOST", "")
    start = (
        f"start Langfuse at {where}" if ctx.native else ctx.kit_command("restart", "langfuse-web")
    )
    return (
        f"Langfuse at {where} does not take the traces: {start}; the spool keeps every "
        "trace and delivers it on its own once Langfuse answers"
    )


def _read_api_fix(ctx: DoctorContext) -> str:
    where = ctx.settings.get("LANGFUSE_HOST", "")
    if ctx.native:
        return f"Check that {where}/api/public/v2/observations answers with the project's keys"
    return (
        f"{ctx.kit_command('logs', 'langfuse-web', '--tail', '100')} shows why the read API "
        "fails; the spans are confirmed (or sent again) on their own once it answers"
    )


@group.check(
    "callback.delivery",
    summary="the callback delivers: no export error since the last successful delivery, and "
    "no span waits for Langfuse's read API to confirm it",
    remedy="Langfuse unreachable: start it (the spool delivers by itself afterwards); 401/403: "
    "fix the keys as langfuse.auth says; read API failing: see langfuse-web's log",
)
def delivery(ctx: DoctorContext, result: Verdicts) -> Finding:
    volume = _read_or_skip(ctx, result)
    if isinstance(volume, Finding):
        return volume
    reports: dict[str, dict[str, Any]] = volume["spools"]
    for name, health in reports.items():
        error = health.get("last_error") or ""
        error_age = health.get("last_error_age_seconds")
        delivered_age = health.get("last_delivery_age_seconds")
        backlog = int(health.get("backlog_spans") or 0)
        failing = bool(error) and (delivered_age is None or error_age < delivered_age)
        if failing and backlog:
            return result.fail(
                f"{_where(reports, name)}{backlog} spans wait for Langfuse (oldest "
                f"{_age(health.get('oldest_age_seconds'))}); the last export failed "
                f"{_age(error_age)} ago: {ctx.redact(error)}",
                _delivery_fix(ctx, error),
            )
    for name, health in reports.items():
        check_error = health.get("in_doubt_check_error")
        if check_error:
            waiting = _age(health.get("in_doubt_oldest_age_seconds"))
            return result.warn(
                f"{_where(reports, name)}{health.get('in_doubt_spans', 0)} spans sent without "
                f"an answer have waited {waiting} because Langfuse's read API cannot confirm "
                f"whether it has them ({ctx.redact(check_error)}); new traces keep flowing, "
                "and these are sent again (a possible duplicate) after a bounded wait",
                _read_api_fix(ctx),
            )
    ages = [r.get("last_delivery_age_seconds") for r in reports.values()]
    delivered = [age for age in ages if age is not None]
    if not delivered:
        return result.ok("nothing delivered yet, and no export error")
    return result.ok(f"last delivery {_age(min(delivered))} ago")
