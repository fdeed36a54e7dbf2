"""`backup` and `restore` through the CLI with a recording `docker`: a refused archive or a
declined question ends before any container or file is touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmops_kit import __version__, backup_archive, backup_crypto, settings
from llmops_kit.backup_archive import Manifest
from tests.unit.cli_harness import SERVICES, Kit, make_kit, ps_line

IMAGES = {name: f"standin/{name}:1.0" for name in SERVICES}
PASSPHRASE = "a passphrase of some length"


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    kit = make_kit(tmp_path, monkeypatch)
    settings.init_env(kit.env_file)
    monkeypatch.setattr(backup_crypto, "SCRYPT_LOG2_N", 14)
    model = {"name": "kit", "services": {name: {"image": image} for name, image in IMAGES.items()}}
    kit.docker.reply("compose", "config", "--format", "json", stdout=json.dumps(model))
    return kit


def make_archive(kit: Kit, tmp_path: Path, *, passphrase: bytes | None = None) -> Path:
    """An archive whose .env is a different stack's (fresh secrets)."""
    parts = tmp_path / "parts"
    parts.mkdir()
    settings.init_env(parts / "env")
    manifest = Manifest(
        kit_version=__version__,
        created_at="2026-12-07T03:17:00Z",
        project="kit",
        images=IMAGES,
        parts=(backup_archive.describe_part("env", parts / "env", ".env"),),
    )
    archive = tmp_path / "llmops-backup-kit-20261207T031700Z.tar"
    backup_archive.write(archive, manifest, parts, passphrase)
    return archive


def test_a_damaged_archive_is_refused_before_docker_is_called(kit: Kit, tmp_path: Path) -> None:
    archive = make_archive(kit, tmp_path)
    data = bytearray(archive.read_bytes())
    data[data.index(b"SALT=") + 5] ^= 0x01
    archive.write_bytes(bytes(data))
    env_before = kit.env_file.read_bytes()

    outcome = kit.run("restore", str(archive), "--yes")

    assert outcome.code == 1
    assert "part env does not match its SHA-256 in the manifest" in outcome.stderr
    assert kit.docker.calls() == []
    assert kit.env_file.read_bytes() == env_before


def test_a_wrong_passphrase_is_named_and_nothing_changes(kit: Kit, tmp_path: Path) -> None:
    archive = make_archive(kit, tmp_path, passphrase=PASSPHRASE.encode())
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not the passphrase that sealed it\n")
    env_before = kit.env_file.read_bytes()

    outcome = kit.run("restore", str(archive), "--yes", "--passphrase-file", str(wrong))

    assert outcome.code == 1
    assert "wrong passphrase for this archive" in outcome.stderr
    assert kit.docker.calls() == []
    assert kit.env_file.read_bytes() == env_before


def test_without_a_terminal_the_question_is_answered_no(kit: Kit, tmp_path: Path) -> None:
    archive = make_archive(kit, tmp_path)
    env_before = kit.env_file.read_bytes()

    outcome = kit.run("restore", str(archive))

    assert outcome.code == 1
    assert "restore cancelled: nothing was changed" in outcome.stderr
    assert [call for call in kit.docker.calls() if "config" not in call] == []
    assert kit.env_file.read_bytes() == env_before


def test_backup_of_a_stopped_stack_names_what_is_not_running(kit: Kit, tmp_path: Path) -> None:
    lines = [ps_line(s) for s in SERVICES if s != "clickhouse"]
    lines.append(ps_line("clickhouse", state="exited", health=""))
    kit.docker.reply("compose", "ps", stdout="\n".join(lines) + "\n")

    outcome = kit.run("backup", "--out", str(tmp_path / "backups"))

    assert outcome.code == 1
    assert "cannot back up: clickhouse not running" in outcome.stderr
    assert "python manage_langfuse.py start" in outcome.stderr
    assert list((tmp_path / "backups").iterdir()) == []
