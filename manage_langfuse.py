#!/usr/bin/env python3
"""Entry point of the kit: every command lives in llmops_kit.cli.

On a fresh machine the kit's pinned dependencies are not installed yet, so this file first
makes sure it runs inside the repository's `.venv` (creating it and installing exactly the
versions pinned in pyproject.toml when needed), then hands over to the CLI. Set
LLMOPS_NO_BOOTSTRAP=1 to run in the current interpreter as it is.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".llmops-kit-installed"


def _pyproject_digest() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _ensure_venv() -> None:
    """Create .venv and install the pinned dependencies when pyproject.toml changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs before any venv exists
        sys.exit("manage_langfuse.py needs Python 3.11 or newer: run it with python3.11")
    if not VENV_PYTHON.exists():
        print("Creating .venv for the kit (first run only)...", file=sys.stderr, flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    digest = _pyproject_digest()
    if not STAMP.exists() or STAMP.read_text().strip() != digest:
        print(
            "Installing the kit's pinned dependencies into .venv (about a minute)...",
            file=sys.stderr,
            flush=True,
        )
        subprocess.check_call(
            [
                str(VENV_PYTHON),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-q",
                "-e",
                str(ROOT),
            ]
        )
        STAMP.write_text(digest + "\n")


def _load_bundle(argv: list[str]) -> int:
    """`bundle load FILE` on an offline host, before any .venv: the standard library checks
    and loads the bundle, then .venv is installed from its wheels without an index."""
    from llmops_kit import bundle_load

    def install(bundle: bundle_load.Unpacked) -> None:
        os.environ.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(bundle.wheels))
        try:
            _ensure_venv()
        except subprocess.CalledProcessError as error:
            raise bundle_load.BundleError(
                f"installing .venv from the bundle's wheels failed (exit {error.returncode})",
                fix="Use a bundle made from this kit version (`bundle create` beside it).",
            ) from None

    return bundle_load.main(argv, install)


def _bootstrap() -> None:
    """Re-run this script with .venv's interpreter unless already there (or told not to)."""
    if os.environ.get("LLMOPS_NO_BOOTSTRAP") or Path(sys.prefix).resolve() == VENV.resolve():
        return
    try:
        _ensure_venv()
    except subprocess.CalledProcessError as error:
        sys.exit(f"Could not install the kit's dependencies (exit {error.returncode}); see above.")
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])


if __name__ == "__main__":
    if sys.argv[1:3] == ["bundle", "load"]:
        sys.exit(_load_bundle(sys.argv[3:]))
    _bootstrap()
    from llmops_kit.cli import main

    main()
