"""`bundle load FILE`: check an offline bundle, load its images, install its wheels offline.

An offline host has no `.venv` yet, so this module runs on the standard library alone:
manage_langfuse.py calls it before it bootstraps, and installs `.venv` from the bundle's
wheels (`pip --no-index --find-links`). Nothing is loaded unless every file matches the
SHA-256 in the manifest and the wheels were built for this Python and platform.

The archive (written by llmops_kit/bundle.py) is a plain tar:
    manifest.json       first: kit version, Python, platform, images, each file's size and SHA-256
    images.tar          `docker save` of every image the compose files pin
    requirements.txt    the kit's pinned requirements
    wheels/...          `pip download` of them (and the build backend) for that platform
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from .errors import KitError

FORMAT = 1
MANIFEST = "manifest.json"
IMAGES = "images.tar"
REQUIREMENTS = "requirements.txt"
WHEELS = "wheels"
CHUNK = 1 << 20
UNRESOLVED = (
    "the engine does not list the image under that reference after `docker load` (a digest "
    "reference needs the registry's digest, which a load may not restore); `start` would "
    "try to pull it"
)
CREATE_FIX = "Make the bundle again on the connected machine (`bundle create`) and copy it over."


class BundleError(KitError):
    """The bundle is damaged, not a bundle, or not for this host; nothing was loaded."""


def python_tag() -> str:
    """The interpreter the wheels must fit, e.g. cp311."""
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def platform_tag() -> str:
    """The platform the wheels must fit, e.g. linux-x86_64."""
    return sysconfig.get_platform()


@dataclass(frozen=True)
class Unpacked:
    """A verified bundle unpacked in a temporary directory."""

    root: Path
    manifest: dict[str, Any]

    @property
    def images(self) -> Path:
        return self.root / IMAGES

    @property
    def wheels(self) -> Path:
        return self.root / WHEELS

    @property
    def requirements(self) -> Path:
        return self.root / REQUIREMENTS

    def references(self) -> list[tuple[str, str]]:
        """(image reference, image id) for every image the bundle carries."""
        return [(image["reference"], image["id"]) for image in self.manifest["images"]]


def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BundleError(f"the bundle holds a file outside itself ({name!r})", fix=CREATE_FIX)
    return str(path)


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise BundleError(f"{archive} is not a kit bundle (no {MANIFEST} first)", fix=CREATE_FIX)
    stream = tar.extractfile(first)
    try:
        manifest = json.loads(stream.read()) if stream else None
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{archive} has a manifest this kit cannot read", fix=CREATE_FIX)
    return manifest


def _check_host(manifest: dict[str, Any]) -> None:
    wanted = (manifest.get("python"), manifest.get("platform"))
    here = (python_tag(), platform_tag())
    if wanted != here:
        raise BundleError(
            f"the bundle's wheels are for {wanted[0]} on {wanted[1]}; this host runs "
            f"{here[0]} on {here[1]}",
            fix="Make the bundle on a connected machine with the same Python and platform.",
        )


def _copy_hashed(source: IO[bytes], target: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _unpack(archive: Path, into: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, mode="r:") as tar:
            manifest = _read_manifest(tar, archive)
            _check_host(manifest)
            expected = {entry["path"]: entry for entry in manifest["files"]}
            seen: set[str] = set()
            while (member := tar.next()) is not None:
                name = _safe_name(member.name)
                entry = expected.get(name)
                if entry is None or not member.isfile() or name in seen:
                    raise BundleError(f"{archive} holds {name!r}, which its manifest does not list")
                target = into / name
                target.parent.mkdir(parents=True, exist_ok=True)
                size, digest = _copy_hashed(tar.extractfile(member) or io.BytesIO(), target)
                if (size, digest) != (entry["size"], entry["sha256"]):
                    raise BundleError(
                        f"{archive}: {name} does not match its SHA-256 in the manifest "
                        "(damaged in transfer?)",
                        fix=CREATE_FIX,
                    )
                seen.add(name)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise BundleError(f"{archive} cannot be read: {error}", fix=CREATE_FIX) from error
    missing = sorted(set(expected) - seen)
    if missing:
        raise BundleError(f"{archive} is incomplete: {', '.join(missing)} missing", fix=CREATE_FIX)
    return manifest


@contextmanager
def unpacked(archive: Path, *, work_dir: Path | None = None) -> Iterator[Unpacked]:
    """The bundle verified file by file into a temporary directory, removed afterwards."""
    if not archive.is_file():
        raise BundleError(f"there is no bundle at {archive}", fix=CREATE_FIX)
    with tempfile.TemporaryDirectory(prefix="llmops-bundle-", dir=work_dir) as directory:
        root = Path(directory)
        yield Unpacked(root, _unpack(archive, root))


def _docker(argv: Sequence[str], docker: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [docker, *argv], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        raise KitError(
            f"`{docker}` was not found",
            fix="Install Docker Engine (from your distribution's packages on an offline host).",
        ) from None


def image_id(reference: str, docker: str = "docker") -> str | None:
    """The local image id of a reference, None when the engine does not have it."""
    done = _docker(["image", "inspect", "--format", "{{.Id}}", reference], docker)
    return done.stdout.strip() if done.returncode == 0 else None


def load_images(bundle: Unpacked, docker: str = "docker") -> list[str]:
    """`docker load` the images; returns the references that still do not resolve to their id."""
    done = _docker(["load", "--input", str(bundle.images)], docker)
    if done.returncode != 0:
        raise KitError(
            f"`docker load` failed: {done.stderr.strip()}",
            fix="Check that the engine runs and has room (`docker system df`).",
        )
    return [ref for ref, wanted in bundle.references() if image_id(ref, docker) != wanted]


def pip_install(python: Path, bundle: Unpacked) -> None:
    """Install the pinned requirements from the bundle's wheels alone, never an index."""
    argv = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    argv += ["--no-index", "--find-links", str(bundle.wheels), "-r", str(bundle.requirements)]
    if subprocess.run(argv, check=False).returncode != 0:
        raise KitError(
            "installing the bundle's wheels failed (see pip's output above)",
            fix="Use a bundle made with the same kit version, Python and platform.",
        )


def load(
    archive: Path,
    install: Callable[[Unpacked], None],
    *,
    docker: str = "docker",
    say: Callable[[str], None] = print,
) -> list[str]:
    """Verify, load the images, install the wheels; returns references that did not resolve."""
    with unpacked(archive, work_dir=archive.resolve().parent) as bundle:
        files = bundle.manifest["files"]
        say(f"bundle verified: {len(files)} files match their SHA-256")
        unresolved = load_images(bundle, docker)
        say(f"images loaded: {len(bundle.references()) - len(unresolved)} resolve locally")
        install(bundle)
        wheels = len(list(bundle.wheels.iterdir()))
        say(f"Python packages in place, from the bundle's {wheels} wheels")
    return unresolved


def main(argv: Sequence[str], install: Callable[[Unpacked], None]) -> int:
    """`bundle load FILE` before the kit's .venv exists; 0 ok, 1 failed."""
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: manage_langfuse.py bundle load FILE", file=sys.stderr)
        return 2
    try:
        unresolved = load(Path(argv[0]), install)
    except KitError as error:
        print(f"Error: {error.message}", file=sys.stderr)
        if error.fix:
            print(f"  fix: {error.fix}", file=sys.stderr)
        return 1
    for reference in unresolved:
        print(f"WARN {reference} does not resolve after the load: {UNRESOLVED}", file=sys.stderr)
    return 1 if unresolved else 0
