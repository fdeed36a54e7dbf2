"""`export`: files for running the kit elsewhere; `export helm` writes the Kubernetes ones.

The files hold secrets, so the directory is made 0700 and every file is written 0600 from its
first byte; the output names files and Secrets, never a value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import typer

from .. import console, helm_charts, helm_export, settings
from ..errors import KitError, UsageError
from . import shown_path

app = typer.Typer(
    help="Write files for running the kit on other platforms (Kubernetes).",
    no_args_is_help=True,
)

DEFAULT_OUT = settings.REPO_ROOT / "k8s"
# What Kubernetes accepts as a namespace name (an RFC 1123 label).
NAMESPACE_PATTERN = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"


@app.command("helm")
def helm(
    out: Annotated[
        Path,
        typer.Option("--out", help="Directory to write into (made mode 0700).", file_okay=False),
    ] = DEFAULT_OUT,
    namespace: Annotated[
        str, typer.Option(help="Kubernetes namespace of both releases and the manifests.")
    ] = helm_charts.NAMESPACE,
    env_file: Annotated[
        Path,
        typer.Option(
            "--env-file", help="The settings file (env: LLMOPS_ENV_FILE).", envvar="LLMOPS_ENV_FILE"
        ),
    ] = settings.REPO_ROOT / settings.ENV_FILE_NAME,
) -> None:
    """Write Helm values for Langfuse and LiteLLM, their Secrets, ConfigMap and spool claim.

    From the same .env and compose files `start` uses; see the README's Kubernetes section.
    """
    raise typer.Exit(run(env_file, out, namespace))


def run(env_file: Path, out: Path, namespace: str = helm_charts.NAMESPACE) -> int:
    if not re.fullmatch(NAMESPACE_PATTERN, namespace):
        raise UsageError(
            f"{namespace!r} is not a Kubernetes namespace name",
            fix="Use up to 63 lowercase letters, digits and '-', starting and ending alphanumeric.",
        )
    if not env_file.is_file():
        raise KitError(
            f"{env_file} does not exist: the Secrets are made from its values",
            fix="Run `python manage_langfuse.py init` first.",
        )
    result = helm_export.build(settings.load(env_file), namespace)
    write_private(out, result.files)
    console.success(f"wrote {len(result.files)} files to {shown_path(out)} (mode 0600)")
    for name in result.files:
        console.info(f"  {name}")
    for note in result.notes:
        console.warn(note)
    console.info("Install (helm 3.17+, a cluster with cert-manager and the ClickHouse operator):")
    for command in helm_export.install_commands(Path(shown_path(out)), namespace):
        console.info(f"  {command}")
    return console.EXIT_OK


def write_private(out: Path, files: dict[str, str]) -> None:
    """Each file atomically with mode 0600, in `out` made (or kept) mode 0700."""
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    for name, text in files.items():
        settings.write_env_file(out / name, text)
