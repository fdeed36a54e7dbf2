"""`bundle create` and `bundle load`: an offline install (llmops_kit/bundle.py, bundle_load.py).

manage_langfuse.py runs `bundle load` itself before .venv exists (standard library only) and
installs .venv from the bundle; this module is the same command inside an installed kit.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .. import bundle, bundle_load, console
from . import open_project, shown_path


def run_create(env_file: Path, out: Path | None) -> int:
    project = open_project(env_file)
    target = out or Path.cwd() / bundle.DEFAULT_NAME
    written = bundle.create(
        project, target, requirements=bundle.pinned_requirements(), say=console.info
    )
    size_mib = written.stat().st_size / 2**20
    console.success(f"bundle written: {shown_path(written)} ({size_mib:.0f} MiB)")
    console.info(f"on the offline host: python3 manage_langfuse.py bundle load {written.name}")
    return console.EXIT_OK


def run_load(archive: Path) -> int:
    unresolved = bundle_load.load(
        archive,
        lambda unpacked: bundle_load.pip_install(Path(sys.executable), unpacked),
        say=console.info,
    )
    for reference in unresolved:
        console.warn(f"{reference} does not resolve after the load: {bundle_load.UNRESOLVED}")
    if unresolved:
        return console.EXIT_FAILED
    console.success("bundle loaded: `start` needs no registry now")
    return console.EXIT_OK
