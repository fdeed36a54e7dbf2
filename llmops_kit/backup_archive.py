"""The backup archive: a tar of `manifest.json`, its SHA-256 and one file per part.

    write(archive, manifest, parts_dir, passphrase=None)   the file, mode 0600, atomically
    read(archive, into, passphrase=None) -> Manifest       verified, parts extracted into `into`

The manifest records the kit's version, the images the stack ran and each part's size and
SHA-256; `manifest.sha256` covers the manifest itself, so every byte that carries data is
checked before a restore touches anything. With a passphrase the tar is sealed by
backup_crypto. Both functions work in the caller's private directory (0700).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import backup_crypto
from .backup_crypto import DAMAGED_FIX, ArchiveDamaged
from .checksums import sha256_of
from .errors import KitError

FORMAT = 1
MANIFEST = "manifest.json"
MANIFEST_DIGEST = "manifest.sha256"
PARTS_DIR = "parts"
_COPY_BUFFER = 1 << 20


@dataclass(frozen=True)
class Part:
    """One store's data in the archive: which file, how large, its SHA-256, what it held."""

    name: str
    file: str
    size: int
    sha256: str
    summary: str = ""


@dataclass(frozen=True)
class Manifest:
    kit_version: str
    created_at: str
    project: str
    images: Mapping[str, str]
    parts: tuple[Part, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    format: int = FORMAT

    def part(self, name: str) -> Part | None:
        return next((part for part in self.parts if part.name == name), None)

    def to_json(self) -> bytes:
        data = asdict(self)
        data["images"] = dict(self.images)
        return json.dumps(data, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data: dict[str, Any] = json.loads(raw)
            return cls(
                kit_version=str(data["kit_version"]),
                created_at=str(data["created_at"]),
                project=str(data["project"]),
                images={str(k): str(v) for k, v in data["images"].items()},
                parts=tuple(Part(**part) for part in data["parts"]),
                notes=tuple(data.get("notes") or ()),
                format=int(data["format"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ArchiveDamaged(
                f"the manifest cannot be read ({error})", fix=DAMAGED_FIX
            ) from None


def describe_part(name: str, path: Path, summary: str = "") -> Part:
    """The manifest entry of a part file already written in the parts directory."""
    return Part(name, path.name, path.stat().st_size, sha256_of(path), summary)


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 before any byte is written to it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    os.chmod(path, 0o600)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o600
    tar.addfile(info, io.BytesIO(data))


def write(archive: Path, manifest: Manifest, parts_dir: Path, passphrase: bytes | None) -> None:
    """Write the archive at `archive` (mode 0600) from the manifest and the part files.

    Written beside it under a temporary name and renamed at the end, so a failed backup
    never leaves a file that looks like a finished archive.
    """
    partial = archive.with_name(f".{archive.name}.partial")
    plain = archive.with_name(f".{archive.name}.tar") if passphrase else partial
    try:
        private_file(plain)
        with tarfile.open(plain, "w", format=tarfile.PAX_FORMAT) as tar:
            raw = manifest.to_json()
            _add_bytes(tar, MANIFEST, raw)
            _add_bytes(tar, MANIFEST_DIGEST, hashlib.sha256(raw).hexdigest().encode())
            for part in manifest.parts:
                info = tar.gettarinfo(parts_dir / part.file, f"{PARTS_DIR}/{part.file}")
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o600
                with (parts_dir / part.file).open("rb") as handle:
                    tar.addfile(info, handle)
        if passphrase:
            private_file(partial)
            backup_crypto.seal(plain, partial, passphrase)
        os.replace(partial, archive)
    finally:
        partial.unlink(missing_ok=True)
        if passphrase:
            plain.unlink(missing_ok=True)


def read(archive: Path, into: Path, passphrase: bytes | None) -> Manifest:
    """Verify the archive and extract its parts into `into`; raise before trusting a byte.

    Checks, in order: the encryption (when sealed), the tar structure, the manifest's own
    SHA-256, then each part's size and SHA-256, and that no part is missing or extra.
    """
    if not archive.is_file():
        raise KitError(f"there is no archive at {archive}", fix="Name a file `backup` wrote.")
    plain = archive
    if backup_crypto.is_sealed(archive):
        if passphrase is None:
            raise KitError(f"{archive.name} is encrypted", fix=backup_crypto.PASSPHRASE_FIX)
        plain = into / "archive.tar"
        private_file(plain)
        backup_crypto.unseal(archive, plain, passphrase)
    try:
        return _read_tar(plain, into)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArchiveDamaged(
            f"{archive.name} is damaged or truncated ({error})", fix=DAMAGED_FIX
        ) from None
    finally:
        if plain != archive:
            plain.unlink(missing_ok=True)


def _read_tar(plain: Path, into: Path) -> Manifest:
    parts_dir = into / PARTS_DIR
    parts_dir.mkdir(mode=0o700, exist_ok=True)
    found: dict[str, tuple[int, str]] = {}
    raw = digest = None
    with tarfile.open(plain, "r:") as tar:
        for member in tar:
            if not member.isfile():
                raise ArchiveDamaged(f"unexpected entry {member.name!r}", fix=DAMAGED_FIX)
            source = tar.extractfile(member)
            assert source is not None  # a regular file always has content
            if member.name == MANIFEST:
                raw = source.read()
            elif member.name == MANIFEST_DIGEST:
                digest = source.read().decode("ascii", "replace").strip()
            elif _part_file(member.name):
                name = _part_file(member.name)
                found[name] = _extract(source, parts_dir / name)
            else:
                raise ArchiveDamaged(f"unexpected entry {member.name!r}", fix=DAMAGED_FIX)
        # tarfile ends what it writes with two zero blocks, padded to a whole record: any
        # other length means bytes were cut (or added) after the last member.
        end = tar.offset + 2 * tarfile.BLOCKSIZE
        if plain.stat().st_size != -(-end // tarfile.RECORDSIZE) * tarfile.RECORDSIZE:
            raise ArchiveDamaged(
                "the archive is truncated (its end-of-archive blocks are missing)",
                fix=DAMAGED_FIX,
            )
    if raw is None or digest is None:
        raise ArchiveDamaged(
            "the archive has no manifest: truncated, or not a backup", fix=DAMAGED_FIX
        )
    if hashlib.sha256(raw).hexdigest() != digest:
        raise ArchiveDamaged("the manifest does not match its SHA-256", fix=DAMAGED_FIX)
    manifest = Manifest.from_json(raw)
    for part in manifest.parts:
        if part.file not in found:
            raise ArchiveDamaged(f"part {part.name} is missing: truncated archive", fix=DAMAGED_FIX)
        size, sha = found.pop(part.file)
        if (size, sha) != (part.size, part.sha256):
            raise ArchiveDamaged(
                f"part {part.name} does not match its SHA-256 in the manifest", fix=DAMAGED_FIX
            )
    if found:
        raise ArchiveDamaged(f"parts not in the manifest: {', '.join(found)}", fix=DAMAGED_FIX)
    return manifest


def _part_file(member: str) -> str:
    """The part's file name for `parts/<name>`; "" for anything else (paths, `..`)."""
    prefix, _, name = member.partition("/")
    return name if prefix == PARTS_DIR and name and "/" not in name and name != ".." else ""


def _extract(source: Any, target: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    private_file(target)
    with target.open("wb") as handle:
        while chunk := source.read(_COPY_BUFFER):
            digest.update(chunk)
            size += len(chunk)
            handle.write(chunk)
    return size, digest.hexdigest()


def copy_private(source: Path, target: Path) -> None:
    """Copy a file to `target` with mode 0600 from the first byte."""
    private_file(target)
    with source.open("rb") as reader, target.open("wb") as writer:
        shutil.copyfileobj(reader, writer, _COPY_BUFFER)
