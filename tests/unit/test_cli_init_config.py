"""`init` and `config` as a user sees them, and a broken .env reported as one cause and fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmops_kit import settings
from tests.unit.cli_harness import Kit, make_kit

BROKEN_LINE_ERROR = [
    "Error: .env line 2 is not KEY=VALUE",
    "  fix: Write it as NAME=value, or start the line with # to comment it out.",
]


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    return make_kit(tmp_path, monkeypatch)


def test_init_writes_a_new_env_and_says_how_many_values(kit: Kit) -> None:
    outcome = kit.run("init")
    written = {k: v for k, v in settings.read_env_file(kit.env_file).items() if v}
    assert outcome.code == 0
    assert outcome.stderr == f"OK wrote {kit.env_file} (mode 0600) with {len(written)} values\n"


def test_init_again_changes_nothing(kit: Kit) -> None:
    kit.run("init")
    before = kit.env_file.read_text()
    outcome = kit.run("init")
    assert outcome.stderr == f"OK {kit.env_file} is complete; nothing changed\n"
    assert kit.env_file.read_text() == before


def test_init_fills_in_only_what_is_missing(kit: Kit) -> None:
    kit.run("init")
    kept = kit.env_file.read_text().replace("\nSALT=", "\nOLD_SALT=")
    kit.env_file.write_text(kept)
    outcome = kit.run("init")
    assert outcome.stderr == f"OK added SALT to {kit.env_file}\n"


def test_config_shows_every_variable_with_secrets_masked(kit: Kit) -> None:
    kit.run("init")
    values = settings.read_env_file(kit.env_file)
    outcome = kit.run("config")
    assert outcome.code == 0
    for var in settings.VARIABLES:
        assert var.name in outcome.stdout
        if var.secret and values.get(var.name):
            assert values[var.name] not in outcome.stdout, var.name
    master_key = values["LITELLM_MASTER_KEY"]
    assert "│ LITELLM_MASTER_KEY " in outcome.stdout
    assert f"sk-…{master_key[-4:]}" in outcome.stdout


def test_a_broken_env_line_stops_start_with_the_line_and_the_fix(kit: Kit) -> None:
    kit.env_file.write_text("COMPOSE_PROJECT_NAME=kit\nthis line is broken\n")
    outcome = kit.run("start")
    assert outcome.code == 1
    assert outcome.stderr.splitlines() == BROKEN_LINE_ERROR
    assert kit.docker.calls() == []


def test_a_broken_env_line_stops_config_with_the_line_and_the_fix(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("COMPOSE_PROJECT_NAME=kit\nthis line is broken\n")
    environ = {k: v for k, v in os.environ.items() if k not in settings.BY_NAME}
    entry = str(settings.REPO_ROOT / "manage_langfuse.py")
    done = subprocess.run(
        [sys.executable, entry, "config", "--env-file", str(env_file)],
        capture_output=True,
        text=True,
        env={**environ, "NO_COLOR": "1", "COLUMNS": "100"},
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == BROKEN_LINE_ERROR
