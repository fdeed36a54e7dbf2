"""The `manage_langfuse.py` commands. Commands only parse arguments and call the modules.

Exit codes scripts can trust: 0 ok, 1 a failed check or operation, 2 a usage error.
Set LLMOPS_DEBUG=1 to see tracebacks.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from . import console, settings
from .errors import KitError

app = typer.Typer(
    name="manage_langfuse.py",
    help="Run and check the LiteLLM proxy + self-hosted Langfuse kit for coding agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EnvFileOption = Annotated[
    Path,
    typer.Option(
        "--env-file",
        help="The settings file (env: LLMOPS_ENV_FILE).",
        envvar="LLMOPS_ENV_FILE",
    ),
]
DEFAULT_ENV_FILE = settings.REPO_ROOT / settings.ENV_FILE_NAME


@app.command()
def init(env_file: EnvFileOption = DEFAULT_ENV_FILE) -> None:
    """Create or complete .env with fresh secrets; keeps every value already set."""
    result = settings.init_env(env_file)
    if result.created:
        console.success(f"wrote {env_file} (mode 0600) with {len(result.added)} values")
    elif result.added:
        console.success(f"added {', '.join(result.added)} to {env_file}")
    else:
        console.success(f"{env_file} is complete; nothing changed")


@app.command("config")
def show_config(env_file: EnvFileOption = DEFAULT_ENV_FILE) -> None:
    """Show the resolved settings (process environment > .env > default), secrets masked."""
    resolved = settings.load(env_file, validate=False)
    console.table(
        f"Settings from {env_file} and the environment",
        ("variable", "value"),
        ((v.name, resolved.display(v.name)) for v in settings.VARIABLES),
    )


@app.command()
def proxy(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 4000,
    config: Annotated[
        Path, typer.Option(help="LiteLLM config file.", exists=True, dir_okay=False)
    ] = settings.REPO_ROOT / "litellm_config.yml",
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Run the proxy natively in the foreground (no Docker), for a Langfuse elsewhere.

    Reads .env; the process environment wins (AWS_*, LANGFUSE_*, LITELLM_MASTER_KEY...).
    Ctrl-C stops it cleanly.
    """
    from . import proxy as native_proxy

    resolved = settings.load(env_file)
    if not resolved.get("LITELLM_MASTER_KEY"):
        console.abort(
            "LITELLM_MASTER_KEY is not set: the proxy would accept anyone",
            fix="Run `python manage_langfuse.py init`, or export LITELLM_MASTER_KEY=sk-...",
        )
    raise typer.Exit(native_proxy.run(resolved, config=config, host=host, port=port))


def main() -> None:
    """Run the CLI; a KitError becomes one line with its fix and exit code 1."""
    try:
        app()
    except KitError as error:
        console.report(error)
        sys.exit(console.EXIT_FAILED)
