"""The `manage_langfuse.py` commands. Commands only parse arguments and call the modules.

Exit codes scripts can trust: 0 ok, 1 a failed check or operation, 2 a usage error.
Set LLMOPS_DEBUG=1 to see tracebacks.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from . import console, settings
from .commands import backup as backup_command
from .commands import export as export_command
from .commands import restore as restore_command
from .errors import KitError


class KitGroup(TyperGroup):
    """The one place a command's KitError becomes its cause, its fix and its exit code, so
    the output is the same under `manage_langfuse.py` and typer's test runner."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KitError as error:
            console.report(error)
            raise typer.Exit(error.exit_code) from error


app = typer.Typer(
    cls=KitGroup,
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
    from .commands import init as command

    raise typer.Exit(command.run(env_file))


@app.command("config")
def show_config(env_file: EnvFileOption = DEFAULT_ENV_FILE) -> None:
    """Show the resolved settings (process environment > .env > default), secrets masked."""
    from .commands import show_config as command

    raise typer.Exit(command.run(env_file))


# -- the stack's lifecycle: each command's logic lives in llmops_kit/commands/<name>.py

TimeoutOption = Annotated[
    float,
    typer.Option(help="Seconds to wait for health before giving up.", min=1),
]
ServiceArgument = Annotated[
    str | None, typer.Argument(help="One service (see `status`); all when omitted.")
]


@app.command()
def start(env_file: EnvFileOption = DEFAULT_ENV_FILE, timeout: TimeoutOption = 300.0) -> None:
    """Start Langfuse and the proxy (init first if there is no .env), wait until healthy."""
    from .commands import start as command

    raise typer.Exit(command.run(env_file, timeout=timeout))


@app.command()
def stop(env_file: EnvFileOption = DEFAULT_ENV_FILE) -> None:
    """Stop every container; data and containers are kept."""
    from .commands import stop as command

    raise typer.Exit(command.run(env_file))


@app.command()
def restart(
    service: ServiceArgument = None,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
    timeout: TimeoutOption = 300.0,
) -> None:
    """Restart one service (or all) and wait until it is healthy again."""
    from .commands import restart as command

    raise typer.Exit(command.run(env_file, service, timeout=timeout))


@app.command()
def down(
    volumes: Annotated[
        bool, typer.Option("--volumes", help="Also delete the volumes: ALL Langfuse data.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deleting.")] = False,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Remove the containers; data is kept unless --volumes (asks first, or --yes)."""
    from .commands import down as command

    raise typer.Exit(command.run(env_file, volumes=volumes, yes=yes))


@app.command()
def status(env_file: EnvFileOption = DEFAULT_ENV_FILE) -> None:
    """Show each service's state, health and ports; exit 1 when any is not ready."""
    from .commands import status as command

    raise typer.Exit(command.run(env_file))


@app.command()
def logs(
    service: ServiceArgument = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
    tail: Annotated[
        int | None, typer.Option(help="Only the last N lines of each container.", min=0)
    ] = None,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Print the services' logs (secrets masked)."""
    from .commands import logs as command

    raise typer.Exit(command.run(env_file, service, follow=follow, tail=tail))


@app.command("update-config")
def update_config(
    env_file: EnvFileOption = DEFAULT_ENV_FILE, timeout: TimeoutOption = 300.0
) -> None:
    """Validate litellm_config.yml, then recreate only the proxy and wait for its health."""
    from .commands import update_config as command

    raise typer.Exit(command.run(env_file, timeout=timeout))


# -- checks: doctor (llmops_kit/commands/doctor.py) and the end-to-end test script

DoctorConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The LiteLLM config the proxy runs (default: LLMOPS_LITELLM_CONFIG's, as the "
        "stack mounts it).",
        dir_okay=False,
    ),
]


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    no_bedrock_calls: Annotated[
        bool,
        typer.Option(
            "--no-bedrock-calls",
            help="Skip the per-model Converse call (maxTokens=1), the only check that costs.",
        ),
    ] = False,
    native: Annotated[
        bool,
        typer.Option("--native", help="Check the native proxy (`proxy`): no containers."),
    ] = False,
    config: DoctorConfigOption = None,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Check containers, .env, network, Langfuse, callback, proxy, Bedrock, host and logs.

    Prints each finding as OK, WARN, FAIL or SKIP with its cause and exact fix. Exit 0 when
    nothing FAILs (WARN and SKIP are fine), 1 on any FAIL. Never calls LiteLLM's /health.
    """
    from .commands import doctor as command

    raise typer.Exit(
        command.run(
            env_file,
            config,
            as_json_output=as_json,
            native=native,
            bedrock_calls=not no_bedrock_calls,
        )
    )


@app.command("test")
def run_test_script(
    models: Annotated[
        str | None, typer.Option(help="Comma-separated model groups; default: all the proxy has.")
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for each trace in Langfuse.", min=1)
    ] = 120.0,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Send requests through the proxy and check each arrives in Langfuse as a trace.

    Runs tests/test_litellm_langfuse.py: per model group one streaming and one
    non-streaming request; checks model, tokens, cost and session. Exit 0 when all pass.
    """
    from .commands import test_script as command

    raise typer.Exit(command.run(env_file, models=models, timeout=timeout))


# -- models (llmops_kit/commands/models.py)

models_app = typer.Typer(
    help="The Claude model groups: list them, check for newer ones, add one.",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")
ModelsConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The LiteLLM config (default: LLMOPS_LITELLM_CONFIG's, as the stack mounts it).",
        dir_okay=False,
    ),
]
OfflineOption = Annotated[
    bool,
    typer.Option(
        "--offline",
        help="Do not ask the Bedrock control plane (AWS_ENDPOINT_URL_BEDROCK when set) which "
        "models the account can use; the pinned cost map alone.",
    ),
]


@models_app.command("list")
def models_list(
    offline: OfflineOption = False,
    config: ModelsConfigOption = None,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Each model group: Bedrock id, price, context window, fallbacks, account access."""
    from .commands import models as command

    raise typer.Exit(command.run_list(env_file, config, offline=offline))


@models_app.command("check")
def models_check(
    offline: OfflineOption = False,
    config: ModelsConfigOption = None,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Name newer Claude models of the configured tiers; exit 1 when there are some."""
    from .commands import models as command

    raise typer.Exit(command.run_check(env_file, config, offline=offline))


@models_app.command("add")
def models_add(
    model: Annotated[str, typer.Argument(help="The model, e.g. claude-opus-5-5 or a Bedrock id.")],
    offline: OfflineOption = False,
    config: ModelsConfigOption = None,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Write a model group (with fallbacks and tier name) from the cost map, validated."""
    from .commands import models as command

    raise typer.Exit(command.run_add(env_file, config, model, offline=offline))


@app.command()
def report(
    since: Annotated[
        str | None, typer.Option(help="The last N hours, days or weeks: 24h, 7d (default), 4w.")
    ] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="First UTC day, YYYY-MM-DD (with --to).")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last UTC day, YYYY-MM-DD, included.")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="Group by user, team, model, day, session or client "
            "(default: top users, models and days)."
        ),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table, json, csv or html (html needs --out).")
    ] = "table",
    out: Annotated[Path | None, typer.Option(help="Write to this file.", dir_okay=False)] = None,
    langfuse: Annotated[
        str | None,
        typer.Option(help="Langfuse's URL (default: LANGFUSE_HOST, or the stack's port)."),
    ] = None,
    reconcile: Annotated[
        bool,
        typer.Option("--reconcile", help="Compare cost per day and model with AWS Cost Explorer."),
    ] = False,
    threshold: Annotated[
        float, typer.Option(help="Flag differences above this many percent.", min=0)
    ] = 5.0,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Usage from Langfuse: requests, tokens, cost, cache savings, latency, per group.

    Exit 0 (also when the period is empty, with a warning), 1 when Langfuse or Cost Explorer
    cannot be read or --reconcile finds a difference above the threshold, 2 for a bad option.
    """
    from .commands import report as command

    raise typer.Exit(
        command.run(
            env_file,
            since=since,
            date_from=date_from,
            date_to=date_to,
            by=command.choice("--by", by, command.GROUPINGS),
            output_format=command.choice("--format", output_format, command.FORMATS) or "table",
            out=out,
            langfuse=langfuse,
            reconcile=reconcile,
            threshold=threshold,
        )
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
    from .commands import native_proxy as command

    raise typer.Exit(command.run(env_file, config=config, host=host, port=port))


app.add_typer(export_command.app, name="export")
app.command("backup")(backup_command.command)
app.command("restore")(restore_command.command)


# -- developer keys: llmops_kit/commands/keys.py

keys_app = typer.Typer(
    help="List, add, revoke, rotate and limit developer keys and their teams (the keys file, "
    "LLMOPS_KEYS_FILE).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")
SelectorArgument = Annotated[
    str, typer.Argument(help="The key: its alias, its user, or …<its last 4 characters>.")
]
BudgetOption = Annotated[
    str | None, typer.Option(help="Budget in USD per period, e.g. 50/month, 5/day; none removes.")
]
RpmOption = Annotated[str | None, typer.Option(help="Requests per minute; none removes.")]
TpmOption = Annotated[str | None, typer.Option(help="Tokens per minute; none removes.")]
ModelsOption = Annotated[
    str | None, typer.Option(help="Allowed model groups, comma-separated; none allows all.")
]
ExpiresOption = Annotated[
    str | None, typer.Option(help="ISO date after which the key is refused; none removes.")
]
TeamOption = Annotated[str | None, typer.Option(help="The key's team (limits in teams:).")]


@keys_app.command("list")
def keys_list(env_file: EnvFileOption = DEFAULT_ENV_FILE) -> None:
    """Each key: user, team, masked key, limits, spend this period, requests this minute."""
    from .commands import keys as command

    raise typer.Exit(command.list_keys(env_file))


@keys_app.command("add")
def keys_add(
    user: Annotated[str, typer.Argument(help="Who the key is for, as traces show them.")],
    alias: Annotated[str | None, typer.Option(help="Which of the user's keys.")] = None,
    team: TeamOption = None,
    budget: BudgetOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    models: ModelsOption = None,
    expires: ExpiresOption = None,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Generate a key for USER, write it to the keys file (0600) and print it once."""
    from .commands import keys as command

    changes = command.LimitChanges(budget, rpm, tpm, models, expires, team)
    raise typer.Exit(command.add(env_file, user, alias, changes))


@keys_app.command("revoke")
def keys_revoke(selector: SelectorArgument, env_file: EnvFileOption = DEFAULT_ENV_FILE) -> None:
    """Remove a key; the proxy refuses it within a second."""
    from .commands import keys as command

    raise typer.Exit(command.revoke(env_file, selector))


@keys_app.command("rotate")
def keys_rotate(selector: SelectorArgument, env_file: EnvFileOption = DEFAULT_ENV_FILE) -> None:
    """Replace a key with a new one (printed once); the old one is refused from then on."""
    from .commands import keys as command

    raise typer.Exit(command.rotate(env_file, selector))


@keys_app.command("set")
def keys_set(
    selector: SelectorArgument,
    team: TeamOption = None,
    budget: BudgetOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    models: ModelsOption = None,
    expires: ExpiresOption = None,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Change a key's limits or team."""
    from .commands import keys as command

    changes = command.LimitChanges(budget, rpm, tpm, models, expires, team)
    raise typer.Exit(command.set_limits(env_file, selector, changes))


team_app = typer.Typer(
    help="Team limits (teams: in the keys file): team set NAME, team list, team remove NAME.",
    no_args_is_help=True,
)
keys_app.add_typer(team_app, name="team")
TeamArgument = Annotated[str, typer.Argument(help="The team's name, as keys name it.")]


@team_app.command("set")
def keys_team_set(
    name: TeamArgument,
    budget: BudgetOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    models: ModelsOption = None,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Add a team or change its limits; its budget is shared by all its keys."""
    from .commands import keys as command

    changes = command.LimitChanges(budget, rpm, tpm, models)
    raise typer.Exit(command.set_team(env_file, name, changes))


@team_app.command("list")
def keys_team_list(env_file: EnvFileOption = DEFAULT_ENV_FILE) -> None:
    """Each team: limits, number of keys, spend this period, requests this minute."""
    from .commands import keys as command

    raise typer.Exit(command.list_teams(env_file))


@team_app.command("remove")
def keys_team_remove(name: TeamArgument, env_file: EnvFileOption = DEFAULT_ENV_FILE) -> None:
    """Remove a team; refused while a key still names it."""
    from .commands import keys as command

    raise typer.Exit(command.remove_team(env_file, name))


@app.command()
def upgrade(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before upgrading.")] = False,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
    timeout: TimeoutOption = 300.0,
) -> None:
    """After pulling a new kit version: show the changes, back up, pull, recreate, test.

    Refuses to skip a Langfuse major version. Prints how to roll back (restore the backup
    with the previous kit version), also when a service does not become healthy.
    """
    from .commands import upgrade as command

    raise typer.Exit(command.run(env_file, yes=yes, timeout=timeout))


# -- offline install: llmops_kit/commands/bundle.py

bundle_app = typer.Typer(
    help="An offline install: pinned images and wheels in one archive with checksums.",
    no_args_is_help=True,
)
app.add_typer(bundle_app, name="bundle")


@bundle_app.command("create")
def bundle_create(
    out: Annotated[Path | None, typer.Option(help="The archive to write.", dir_okay=False)] = None,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """On a connected machine: save every pinned image and download the pinned wheels."""
    from .commands import bundle as command

    raise typer.Exit(command.run_create(env_file, out))


@bundle_app.command("load")
def bundle_load(
    archive: Annotated[Path, typer.Argument(help="The bundle from `bundle create`.")],
) -> None:
    """On the offline host: verify checksums, `docker load`, install the wheels offline."""
    from .commands import bundle as command

    raise typer.Exit(command.run_load(archive))


def main() -> None:
    """Run the CLI (KitGroup reports a KitError); anything else is a bug, shown in one line."""
    try:
        app()
    except Exception as error:  # a bug: one line; LLMOPS_DEBUG=1 adds the traceback
        unexpected = KitError(
            f"unexpected {type(error).__name__}: {error}",
            fix="Run again with LLMOPS_DEBUG=1 to see the traceback, and report it.",
        )
        unexpected.__cause__ = error
        console.report(unexpected)
        sys.exit(console.EXIT_FAILED)
