"""`backup [--out DIR] [--passphrase-file F] [--keep N]`: one archive of the running stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import backup_crypto, console, settings
from ..backup import create_backup
from . import shown_path

EnvFileOption = Annotated[
    Path,
    typer.Option(
        "--env-file", help="The settings file (env: LLMOPS_ENV_FILE).", envvar="LLMOPS_ENV_FILE"
    ),
]
DEFAULT_ENV_FILE = settings.REPO_ROOT / settings.ENV_FILE_NAME
PassphraseOption = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help="Encrypt with the passphrase in this file (first line, 12+ characters).",
        dir_okay=False,
    ),
]
TimeoutOption = Annotated[
    float, typer.Option(help="Seconds to wait for a service's health before giving up.", min=1)
]


def command(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for the archive (made 0700; default: backups/ beside .env).",
            file_okay=False,
        ),
    ] = None,
    passphrase_file: PassphraseOption = None,
    keep: Annotated[
        int | None,
        typer.Option(help="Then delete all but the newest N archives of this stack.", min=1),
    ] = None,
    timeout: TimeoutOption = 300.0,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Back up Langfuse, the proxy's data, .env and the keys file into one archive (0600).

    The proxy keeps serving; ClickHouse stops for the seconds its files are copied.
    """
    raise typer.Exit(
        run(env_file, out=out, passphrase_file=passphrase_file, keep=keep, timeout=timeout)
    )


def run(
    env_file: Path,
    *,
    out: Path | None,
    passphrase_file: Path | None,
    keep: int | None,
    timeout: float,
) -> int:
    passphrase = backup_crypto.read_passphrase(passphrase_file) if passphrase_file else None
    archive = create_backup(env_file, out, passphrase=passphrase, keep=keep, timeout=timeout)
    console.success(f"backup written: {shown_path(archive)} (mode 0600)")
    if passphrase is None:
        console.info(
            "it holds every secret of the stack unencrypted: keep it private, or pass "
            "--passphrase-file"
        )
    return console.EXIT_OK
