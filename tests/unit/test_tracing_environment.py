"""LANGFUSE_TRACING_ENVIRONMENT is checked by Langfuse's own rule for environment names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmops_kit import settings
from llmops_kit.errors import ConfigError
from tests.unit.cli_harness import Kit, make_kit

# What Langfuse stores for each name (PublicEnvironmentName in langfuse/langfuse).
NAMES = [
    ("production", "production"),
    ("ci_2", "ci_2"),
    ("Production", "production"),
    ("langfuse-prod", "prod"),
    ("langfuse_prod", "prod"),
    ("langfusedev", "dev"),
    ("langfuselangfuse-x", "x"),
    ("langfuse", "default"),
    ("prod eu", "default"),
    ("a" * 41, "a" * 40),
]


@pytest.mark.parametrize(("name", "stored"), NAMES)
def test_the_name_langfuse_stores(name: str, stored: str) -> None:
    assert settings.langfuse_environment(name) == stored


@pytest.mark.parametrize(("name", "stored"), NAMES)
def test_the_shape_accepts_exactly_the_names_langfuse_keeps(name: str, stored: str) -> None:
    assert bool(re.fullmatch(settings.TRACING_ENVIRONMENT_PATTERN, name)) == (name == stored)


def test_a_name_langfuse_would_rename_stops_commands_that_load_settings(tmp_path: Path) -> None:
    env_path = tmp_path / ".env"
    settings.init_env(env_path)
    with pytest.raises(ConfigError, match="LANGFUSE_TRACING_ENVIRONMENT='langfuse-prod'"):
        settings.load(env_path, {"LANGFUSE_TRACING_ENVIRONMENT": "langfuse-prod"})


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    return make_kit(tmp_path, monkeypatch)


@pytest.mark.parametrize("command", ["init", "config"])
def test_init_and_config_warn_about_a_name_langfuse_would_rename(kit: Kit, command: str) -> None:
    kit.env_file.write_text("LANGFUSE_TRACING_ENVIRONMENT=Staging\n")
    kit.env_file.chmod(0o600)
    outcome = kit.run(command)
    assert outcome.code == 0
    assert "would be stored by Langfuse as 'staging'" in outcome.stderr


def test_init_says_nothing_about_a_valid_name(kit: Kit) -> None:
    outcome = kit.run("init")
    assert "LANGFUSE_TRACING_ENVIRONMENT" not in outcome.stderr
