"""The backup archive: what `restore` trusts. A flipped byte, a truncated file and a wrong
passphrase each fail with a clear message before any part is handed to a store."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from llmops_kit import backup_archive, backup_crypto
from llmops_kit.backup_archive import Manifest
from llmops_kit.backup_crypto import ArchiveDamaged
from llmops_kit.errors import KitError

PASSPHRASE = b"correct horse battery staple"
# Larger than one encrypted record, so record order and the last-record flag are exercised.
BIG = os.urandom(backup_crypto.CHUNK + 12345)


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """The archive header carries the cost; a lower one keeps these tests quick."""
    monkeypatch.setattr(backup_crypto, "SCRYPT_LOG2_N", 14)


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, Manifest]:
    parts_dir = tmp_path / "parts"
    parts_dir.mkdir()
    (parts_dir / "langfuse-postgres.pgdump").write_bytes(BIG)
    (parts_dir / "env").write_text("SALT=abc\n")
    manifest = Manifest(
        kit_version="0.1.0",
        created_at="2026-12-07T00:00:00Z",
        project="langfuse",
        images={"postgres": "postgres:17.11"},
        parts=tuple(
            backup_archive.describe_part(name, parts_dir / file)
            for name, file in (("langfuse-postgres", "langfuse-postgres.pgdump"), ("env", "env"))
        ),
    )
    return parts_dir, manifest


def written(tmp_path: Path, archive: tuple[Path, Manifest], passphrase: bytes | None) -> Path:
    parts_dir, manifest = archive
    path = tmp_path / "backup.tar"
    backup_archive.write(path, manifest, parts_dir, passphrase)
    return path


def restored_into(tmp_path: Path) -> Path:
    into = tmp_path / "restore"
    into.mkdir(mode=0o700)
    return into


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE], ids=["plain", "encrypted"])
def test_round_trip_gives_back_every_part_and_the_manifest(
    tmp_path: Path, archive: tuple[Path, Manifest], passphrase: bytes | None
) -> None:
    path = written(tmp_path, archive, passphrase)
    into = restored_into(tmp_path)

    manifest = backup_archive.read(path, into, passphrase)

    assert manifest == archive[1]
    assert (into / "parts" / "langfuse-postgres.pgdump").read_bytes() == BIG
    assert (into / "parts" / "env").read_text() == "SALT=abc\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_encrypted_archive_holds_no_plain_text(
    tmp_path: Path, archive: tuple[Path, Manifest]
) -> None:
    data = written(tmp_path, archive, PASSPHRASE).read_bytes()
    assert b"SALT=abc" not in data and b"manifest.json" not in data


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE], ids=["plain", "encrypted"])
@pytest.mark.parametrize("where", [0.3, 0.6])
def test_a_flipped_byte_is_refused(
    tmp_path: Path, archive: tuple[Path, Manifest], passphrase: bytes | None, where: float
) -> None:
    path = written(tmp_path, archive, passphrase)
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0x01
    path.write_bytes(bytes(data))

    with pytest.raises(ArchiveDamaged) as raised:
        backup_archive.read(path, restored_into(tmp_path), passphrase)
    assert raised.value.fix == backup_archive.DAMAGED_FIX or "changed" in raised.value.message


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE], ids=["plain", "encrypted"])
@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_a_truncated_archive_is_refused(
    tmp_path: Path, archive: tuple[Path, Manifest], passphrase: bytes | None, keep: float
) -> None:
    path = written(tmp_path, archive, passphrase)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])

    with pytest.raises(ArchiveDamaged, match=r"truncated|damaged|authenticate|missing"):
        backup_archive.read(path, restored_into(tmp_path), passphrase)


def test_an_archive_cut_at_a_record_boundary_is_refused(
    tmp_path: Path, archive: tuple[Path, Manifest]
) -> None:
    """Dropping whole trailing records leaves a well-formed file: the last-record flag
    in the nonce is what catches it."""
    path = written(tmp_path, archive, PASSPHRASE)
    first_record_end = 8 + 1 + 3 + 16 + 16 + 7 + 4 + backup_crypto.CHUNK + 16
    path.write_bytes(path.read_bytes()[:first_record_end])

    with pytest.raises(ArchiveDamaged, match="authenticate"):
        backup_archive.read(path, restored_into(tmp_path), PASSPHRASE)


def test_a_wrong_passphrase_is_named_as_such(
    tmp_path: Path, archive: tuple[Path, Manifest]
) -> None:
    path = written(tmp_path, archive, PASSPHRASE)
    with pytest.raises(KitError, match="wrong passphrase") as raised:
        backup_archive.read(path, restored_into(tmp_path), b"not the passphrase at all")
    assert not isinstance(raised.value, ArchiveDamaged)


def test_an_encrypted_archive_without_a_passphrase_says_so(
    tmp_path: Path, archive: tuple[Path, Manifest]
) -> None:
    path = written(tmp_path, archive, PASSPHRASE)
    with pytest.raises(KitError, match="is encrypted") as raised:
        backup_archive.read(path, restored_into(tmp_path), None)
    assert "--passphrase-file" in (raised.value.fix or "")


def test_a_short_passphrase_file_is_refused(tmp_path: Path) -> None:
    short = tmp_path / "pass"
    short.write_text("hunter2\n")
    with pytest.raises(KitError, match="shorter than 12"):
        backup_crypto.read_passphrase(short)


def test_the_passphrase_is_the_first_line_without_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "pass"
    path.write_text("a long enough passphrase\n")
    assert backup_crypto.read_passphrase(path) == b"a long enough passphrase"
