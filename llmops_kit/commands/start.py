"""`start`: settings, pre-flight, `up -d`, wait for health, then tell the user where things are.

The pre-flight is the subset of doctor's checks that needs no container (doctor/preflight.py),
printed as doctor prints them. Nothing is started while one of them FAILs; a WARN is shown
and start goes on. The summary names secrets only masked, with the command that reads them
from `.env`.
"""

from __future__ import annotations

from pathlib import Path

from .. import claude_code, console, image_pull, service_health, settings
from ..compose import ComposeProject
from ..doctor import DoctorContext, DoctorOptions, Status, run_checks
from ..doctor.litellm import validated_config
from ..doctor.preflight import PREFLIGHT
from ..litellm_config import ValidatedConfig
from . import open_project, shown_path
from .doctor import print_finding

LOOPBACK_OR_ANY = {"127.0.0.1", "0.0.0.0", "::1", "::", "localhost"}


def run(env_file: Path, *, timeout: float) -> int:
    if not env_file.exists():
        written = settings.init_env(env_file)
        console.success(f"no .env yet: wrote {env_file} (mode 0600), {len(written.added)} values")
    project = open_project(env_file)
    config = preflight(env_file)
    if config is None:
        return console.EXIT_FAILED
    console.info(f"starting project {project.name} (docker compose up --detach)")
    with image_pull.explained(project):
        project.up()
    service_health.wait_healthy(project, timeout=timeout)
    console.success(f"every service of {project.name} is healthy")
    print_where_things_are(project, config)
    print_open_webui_connection(project)
    return console.EXIT_OK


def preflight(env_file: Path) -> ValidatedConfig | None:
    """Run and print the pre-flight checks; the validated config when none FAILed."""
    ctx = DoctorContext(DoctorOptions(env_path=env_file))
    try:
        findings = run_checks(ctx, PREFLIGHT, on_finding=lambda f: print_finding(f, console.err))
        failed = sum(f.status is Status.FAIL for f in findings)
        if failed:
            console.info(f"pre-flight found {failed} problem(s); nothing was started")
            return None
        console.success("pre-flight passed")
        return validated_config(ctx)
    finally:
        ctx.close()


def browser_url(project: ComposeProject, port_variable: str) -> str:
    address = project.settings["BIND_ADDRESS"]
    host = "localhost" if address in LOOPBACK_OR_ANY else address
    return f"http://{host}:{project.settings[port_variable]}"


def print_where_things_are(project: ComposeProject, config: ValidatedConfig) -> None:
    """URLs, the Langfuse login, the exact Cline settings and Claude Code environment;
    secrets masked, or read from `.env` by the printed command."""
    models = config.model_groups
    resolved = project.settings
    env_file = shown_path(resolved.env_path)
    proxy_url = browser_url(project, "LITELLM_PORT")
    console.table(
        "The stack is up",
        ("what", "where"),
        (
            ("Langfuse", browser_url(project, "LANGFUSE_WEB_PORT")),
            ("  login e-mail", resolved["LANGFUSE_INIT_USER_EMAIL"]),
            (
                "  password",
                f"{resolved.display('LANGFUSE_INIT_USER_PASSWORD')}  "
                f"(grep LANGFUSE_INIT_USER_PASSWORD {env_file})",
            ),
            ("LiteLLM proxy", proxy_url),
        ),
    )
    console.table(
        "Cline: Settings > API Configuration",
        ("setting", "value"),
        (
            ("API Provider", "LiteLLM"),
            ("Base URL", proxy_url),
            (
                "API Key",
                f"{resolved.display('LITELLM_MASTER_KEY')}  (grep LITELLM_MASTER_KEY {env_file})",
            ),
            ("Model ID", "\n".join(models) if models else "(no model in the config)"),
        ),
    )
    variables = claude_code.model_variables(
        [(route.group, route.model_id) for route in config.routes],
        {*config.model_groups, *config.aliases},
    )
    block = claude_code.environment_block(
        proxy_url, f"sed -n 's/^LITELLM_MASTER_KEY=//p' {env_file}", variables
    )
    console.out.print(
        "Claude Code: in its environment (your shell, or `env` in ~/.claude/settings.json)",
        markup=False,
    )
    console.out.print("\n".join(f"  {line}" for line in block), markup=False)


def print_open_webui_connection(project: ComposeProject) -> None:
    """Open WebUI's OpenAI connection; its users land on traces only through a trusted key."""
    console.table(
        "Open WebUI: Admin Settings > Connections > OpenAI > Add New Connection",
        ("setting", "value"),
        (
            ("URL", f"{browser_url(project, 'LITELLM_PORT')}/v1"),
            ("Key", "a keys.yml key with forwards_users: true"),
            ("Open WebUI env", "ENABLE_FORWARD_USER_INFO_HEADERS=true"),
        ),
    )
