"""`start`: settings, pre-flight, `up -d`, wait for health, then tell the user where things are.

Nothing is started unless every pre-flight check passes, and the summary names secrets only
masked, with the command that reads them from `.env`.
"""

from __future__ import annotations

from pathlib import Path

from .. import claude_code, console, image_pull, preflight, service_health, settings
from ..compose import ComposeProject, proxy_config_file
from ..errors import KitError
from ..litellm_config import ValidatedConfig
from . import open_project, shown_path

LOOPBACK_OR_ANY = {"127.0.0.1", "0.0.0.0", "::1", "::", "localhost"}


def run(env_file: Path, *, timeout: float) -> int:
    if not env_file.exists():
        written = settings.init_env(env_file)
        console.success(f"no .env yet: wrote {env_file} (mode 0600), {len(written.added)} values")
    project = open_project(env_file)
    config = proxy_config_file(project.settings)
    report = preflight.run_checks(project, config)
    if report.problems or report.config is None:
        for problem in report.problems:
            console.report(KitError(problem.message, fix=problem.fix))
        console.info(f"pre-flight found {len(report.problems)} problem(s); nothing was started")
        return console.EXIT_FAILED
    console.success(f"pre-flight passed: {report.measured}")
    for warning in report.config.warnings:
        console.warn(warning)
    console.info(f"starting project {project.name} (docker compose up --detach)")
    with image_pull.explained(project):
        project.up()
    service_health.wait_healthy(project, timeout=timeout)
    console.success(f"every service of {project.name} is healthy")
    print_where_things_are(project, report.config)
    print_open_webui_connection(project)
    return console.EXIT_OK


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
