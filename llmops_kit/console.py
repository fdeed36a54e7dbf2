"""One terminal through which all output goes: plain when not interactive, NO_COLOR honoured.

Results go to stdout; diagnostics, progress and errors go to stderr, so scripts can
pipe a command's output and still see what went wrong.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .errors import KitError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _console(stderr: bool) -> Console:
    return Console(
        stderr=stderr,
        no_color="NO_COLOR" in os.environ,
        highlight=False,
        soft_wrap=True,
    )


out = _console(stderr=False)
err = _console(stderr=True)


def shown_path(path: Path) -> str:
    """A path as the user can paste it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def interactive() -> bool:
    """True when stderr is a terminal: spinners and live displays only then."""
    return err.is_terminal and "CI" not in os.environ


def info(message: str) -> None:
    err.print(message, markup=False)


def success(message: str) -> None:
    err.print(f"[green]✔[/green] {message}" if not err.no_color else f"OK {message}")


def warn(message: str) -> None:
    err.print(f"[yellow]WARN[/yellow] {message}" if not err.no_color else f"WARN {message}")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    grid = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*row)
    out.print(grid)


def report(error: KitError) -> None:
    """Print a KitError as cause and fix; when LLMOPS_DEBUG is set, the traceback too (if it
    was raised or has a cause). cli.KitGroup calls it for every KitError a command raises."""
    if os.environ.get("LLMOPS_DEBUG") and (error.__traceback__ or error.__cause__):
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    err.print(f"Error: {error.message}", markup=False)
    if error.fix:
        err.print(f"  fix: {error.fix}", markup=False)
