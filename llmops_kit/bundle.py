"""`bundle create`: everything an offline host needs to `start`, in one archive with checksums.

On a connected machine: every image the compose files pin (all services, tags resolved as
compose resolves them; pulled first when missing) goes through `docker save`, and the kit's
pinned requirements plus its build backend through `pip download` for this Python and
platform. llmops_kit/bundle_load.py describes the layout and checks it on the other side.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from . import __version__, image_pull
from .bundle_load import (
    FORMAT,
    IMAGES,
    MANIFEST,
    REQUIREMENTS,
    WHEELS,
    image_id,
    platform_tag,
    python_tag,
)
from .checksums import sha256_of
from .compose import ComposeProject
from .errors import KitError
from .settings import REPO_ROOT

DEFAULT_NAME = f"llmops-kit-{__version__}-bundle.tar"


def pinned_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The kit's runtime requirements and its build backend (`pip install -e .` needs it)."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return [*data["project"]["dependencies"], *data["build-system"]["requires"]]


def _run(argv: Sequence[str], what: str, fix: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = " / ".join(done.stderr.strip().splitlines()[-3:]) or "(no output)"
        raise KitError(f"{what} failed: {tail}", fix=fix)


def _images_present(project: ComposeProject, docker: str) -> dict[str, str]:
    """Reference -> image id for every pinned image, pulling the services whose image is missing."""
    images = project.images()
    missing = sorted({s for s, ref in images.items() if image_id(ref, docker) is None})
    if missing:
        with image_pull.explained(project):
            project.pull(missing)
    found = {ref: image_id(ref, docker) for ref in sorted(set(images.values()))}
    absent = sorted(ref for ref, ident in found.items() if ident is None)
    if absent:
        raise KitError(f"not on this machine after the pull: {', '.join(absent)}")
    return {ref: ident for ref, ident in found.items() if ident is not None}


def _write_archive(stage: Path, out: Path, manifest: dict[str, object]) -> None:
    files = sorted(p for p in stage.rglob("*") if p.is_file())
    manifest["files"] = [
        {"path": p.relative_to(stage).as_posix(), "size": p.stat().st_size, "sha256": sha256_of(p)}
        for p in files
    ]
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as tar:
        text = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode = len(text), 0o644
        tar.addfile(info, fileobj=io.BytesIO(text))
        for path in files:
            tar.add(path, arcname=path.relative_to(stage).as_posix(), recursive=False)
    os.replace(partial, out)


def create(
    project: ComposeProject,
    out: Path,
    *,
    requirements: Sequence[str],
    pip_options: Sequence[str] = (),
    docker: str = "docker",
    say: Callable[[str], None] = print,
) -> Path:
    """Write the bundle to `out` (atomically) and return it.

    `pip_options` go to `pip download` (an index URL, or `--no-index --find-links DIR`).
    """
    images = _images_present(project, docker)
    say(f"saving {len(images)} images: {', '.join(images)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".llmops-bundle-", dir=out.parent) as directory:
        stage = Path(directory)
        fix = "Check the engine's free space (`docker system df`) and run again."
        _run([docker, "save", "--output", str(stage / IMAGES), *images], "`docker save`", fix)
        (stage / REQUIREMENTS).write_text("".join(f"{r}\n" for r in requirements))
        say(f"downloading {len(requirements)} pinned requirements and their dependencies")
        pip = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet"]
        pip += ["--dest", str(stage / WHEELS), "-r", str(stage / REQUIREMENTS), *pip_options]
        _run(pip, "`pip download`", "Check the network or the index settings (PIP_INDEX_URL).")
        manifest: dict[str, object] = {
            "format": FORMAT,
            "kit_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": python_tag(),
            "platform": platform_tag(),
            "images": [{"reference": ref, "id": ident} for ref, ident in images.items()],
        }
        _write_archive(stage, out, manifest)
    return out
