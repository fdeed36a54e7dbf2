"""`restore ARCHIVE [--yes] [--passphrase-file F]`: verify, ask, then rebuild the stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import backup_crypto, console
from ..backup_archive import Manifest
from ..restore import restore_backup
from .backup import DEFAULT_ENV_FILE, EnvFileOption, PassphraseOption, TimeoutOption
from .down import confirmed


def command(
    archive: Annotated[Path, typer.Argument(help="The archive `backup` wrote.", dir_okay=False)],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before replacing.")] = False,
    passphrase_file: PassphraseOption = None,
    timeout: TimeoutOption = 300.0,
    env_file: EnvFileOption = DEFAULT_ENV_FILE,
) -> None:
    """Verify an archive, ask, then replace the stack's data with it and start the stack.

    Refuses a damaged archive, one from a newer kit or with newer images, before any change.
    """
    raise typer.Exit(
        run(env_file, archive, yes=yes, passphrase_file=passphrase_file, timeout=timeout)
    )


def _ask(manifest: Manifest) -> bool:
    for part in manifest.parts:
        console.info(f"  {part.name}: {part.summary or part.file}")
    return confirmed(
        f"Replace the data of the stack with this backup of {manifest.project} "
        f"({manifest.created_at})? The current data is lost."
    )


def run(
    env_file: Path, archive: Path, *, yes: bool, passphrase_file: Path | None, timeout: float
) -> int:
    passphrase = backup_crypto.read_passphrase(passphrase_file) if passphrase_file else None
    restore_backup(
        env_file, archive, passphrase=passphrase, confirm=None if yes else _ask, timeout=timeout
    )
    return console.EXIT_OK
