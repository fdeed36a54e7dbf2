"""`update-config` and `start` load the config as the proxy will before anything is recreated.

Each typo here passed validation before and then kept the proxy from starting; now each is
refused with a message naming it, and no container is touched. The configs are the
repository's, with one line changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llmops_kit import settings
from llmops_kit.config_load_check import loaded_callables, unset_references
from tests.unit.cli_harness import SERVICES, Kit, make_kit, ps_line

REPOSITORY_CONFIG = Path(__file__).resolve().parents[2] / "litellm_config.yml"


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    kit = make_kit(tmp_path, monkeypatch)
    kit.set(COMPOSE_PROJECT_NAME="kit")
    settings.init_env(kit.env_file)
    kit.docker.reply("compose", "config", "--services", stdout="\n".join(SERVICES) + "\n")
    kit.docker.reply("compose", "ps", stdout="\n".join(ps_line(s) for s in SERVICES) + "\n")
    kit.docker.reply("compose", "up")
    return kit


def config_with(kit: Kit, tmp_path: Path, old: str, new: str) -> Path:
    text = REPOSITORY_CONFIG.read_text(encoding="utf-8")
    assert old in text
    config = tmp_path / "litellm_config.yml"
    config.write_text(text.replace(old, new, 1), encoding="utf-8")
    kit.set(LLMOPS_LITELLM_CONFIG=str(config))
    return config


def test_a_typo_in_a_callbacks_attribute_is_refused_and_nothing_is_recreated(
    kit: Kit, tmp_path: Path
) -> None:
    config = config_with(
        kit, tmp_path, "- callbacks.langfuse_v4.handler", "- callbacks.langfuse_v4.handlr"
    )

    listed = yaml.safe_load(config.read_text(encoding="utf-8"))["litellm_settings"]["callbacks"]
    position = listed.index("callbacks.langfuse_v4.handlr")

    outcome = kit.run("update-config")

    assert outcome.code == 1
    assert outcome.stderr.splitlines()[0] == (
        f"Error: {config}: litellm_settings.callbacks[{position}] is callbacks.langfuse_v4.handlr, "
        "which LiteLLM cannot load: AttributeError: module 'callbacks.langfuse_v4' has no "
        "attribute 'handlr'"
    )
    assert kit.compose_calls("up") == []


def test_a_typo_in_custom_auth_is_refused_and_nothing_is_recreated(
    kit: Kit, tmp_path: Path
) -> None:
    config_with(
        kit,
        tmp_path,
        "custom_auth: callbacks.auth.user_api_key_auth",
        "custom_auth: callbacks.auth.user_api_key_auht",
    )

    outcome = kit.run("update-config")

    assert outcome.code == 1
    assert "general_settings.custom_auth is callbacks.auth.user_api_key_auht" in outcome.stderr
    assert "has no attribute 'user_api_key_auht'" in outcome.stderr
    assert kit.compose_calls("up") == []


def test_a_typo_in_an_environment_reference_outside_model_list_is_refused(
    kit: Kit, tmp_path: Path
) -> None:
    config = config_with(
        kit,
        tmp_path,
        "master_key: os.environ/LITELLM_MASTER_KEY",
        "master_key: os.environ/LITELLM_MASTR_KEY",
    )

    outcome = kit.run("update-config")

    assert outcome.code == 1
    assert outcome.stderr.splitlines()[:2] == [
        f"Error: {config}: general_settings.master_key is os.environ/LITELLM_MASTR_KEY, but "
        "LITELLM_MASTR_KEY is not set for the proxy (LiteLLM would use null)",
        "  fix: Correct the name, or set LITELLM_MASTR_KEY in .env.",
    ]
    assert kit.compose_calls("up") == []


def test_the_callables_litellm_imports_are_found_where_litellm_finds_them() -> None:
    document = {
        "general_settings": {"custom_auth": "callbacks.auth.user_api_key_auth"},
        "litellm_settings": {"callbacks": ["langfuse", "callbacks.fallback_policy.x"]},
    }

    assert loaded_callables(document) == [
        ("general_settings.custom_auth", "callbacks.auth.user_api_key_auth"),
        ("litellm_settings.callbacks[1]", "callbacks.fallback_policy.x"),
    ]


def test_only_unset_references_are_reported_with_where_they_are() -> None:
    document = {"a": [{"b": "os.environ/SET"}, {"c": "os.environ/EMPTY"}], "d": "plain"}

    assert list(unset_references(document, {"SET": "1", "EMPTY": ""})) == [("a[1].c", "EMPTY")]
