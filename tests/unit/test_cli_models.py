"""`models list|check|add` against the Bedrock control-plane stand-in and the pinned cost map.

The config is a small real one written to a temporary folder: two 4.x groups, so the
current Claude generation is newer than what it has.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from llmops_kit import settings
from llmops_kit.litellm_config import cost_map, validate_config
from llmops_kit.settings import REPO_ROOT
from tests.fakes.bedrock_control import BedrockAccount, running_bedrock_control, usable
from tests.unit.cli_harness import Kit, make_kit

OLD_CONFIG = """\
# Two groups of the 4.x generation.
model_list:
  - model_name: claude-opus-4-8
    litellm_params:
      model: bedrock/converse/${BEDROCK_PROFILE_PREFIX}.anthropic.claude-opus-4-8
      aws_region_name: os.environ/AWS_REGION
    model_info:
      id: claude-opus-4-8
      max_input_tokens: 1000000
      max_output_tokens: 128000
      max_tokens: 128000

  - model_name: claude-sonnet-4-6
    litellm_params:
      model: bedrock/converse/${BEDROCK_PROFILE_PREFIX}.anthropic.claude-sonnet-4-6
      aws_region_name: os.environ/AWS_REGION
    model_info:
      id: claude-sonnet-4-6
      max_input_tokens: 1000000
      max_output_tokens: 64000
      max_tokens: 64000

router_settings:
  # Fallbacks, kept as they are.
  fallbacks:
    - claude-opus-4-8: [claude-sonnet-4-6]
    - opus: [claude-sonnet-4-6]
  max_fallbacks: 1
  model_group_alias:
    opus: {model: claude-opus-4-8, hidden: true}

general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
"""


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    kit = make_kit(tmp_path, monkeypatch)
    kit.set(AWS_ACCESS_KEY_ID="AKIAMODELSTEST", AWS_SECRET_ACCESS_KEY="models-test-secret")
    settings.init_env(kit.env_file)
    return kit


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "litellm_config.yml"
    path.write_text(OLD_CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def account(kit: Kit) -> Iterator[BedrockAccount]:
    """Every us. Claude profile of the cost map, usable, except claude-sonnet-5."""
    bedrock = BedrockAccount.from_price_map(
        cost_map(), "us", without=("anthropic.claude-sonnet-5",)
    )
    with running_bedrock_control(bedrock) as url:
        kit.set(AWS_ENDPOINT_URL_BEDROCK=url)
        yield bedrock


def test_list_shows_each_group_with_id_price_window_fallbacks_and_access(
    kit: Kit, config: Path, account: BedrockAccount
) -> None:
    account.models["anthropic.claude-sonnet-4-6"] = usable(authorizationStatus="NOT_AUTHORIZED")

    outcome = kit.run("models", "list", "--config", str(config))

    assert outcome.code == 0, outcome.stderr
    assert outcome.stdout.splitlines() == [
        "claude-opus-4-8 (also: opus)",
        "  Bedrock id  us.anthropic.claude-opus-4-8",
        "  price       $5.5 / $27.5 per million input / output tokens",
        "  context     1,000,000 input / 128,000 output tokens",
        "  fallbacks   claude-sonnet-4-6",
        "  account     yes",
        "claude-sonnet-4-6",
        "  Bedrock id  us.anthropic.claude-sonnet-4-6",
        "  price       $3.3 / $16.5 per million input / output tokens",
        "  context     1,000,000 input / 64,000 output tokens",
        "  fallbacks   none",
        "  account     no: authorization NOT_AUTHORIZED",
    ]


def test_list_offline_asks_no_aws(kit: Kit, config: Path, account: BedrockAccount) -> None:
    outcome = kit.run("models", "list", "--offline", "--config", str(config))

    assert outcome.code == 0
    assert "not checked" in outcome.stdout
    assert account.calls == []


def test_check_names_newer_models_the_account_can_use_and_exits_1(
    kit: Kit, config: Path, account: BedrockAccount
) -> None:
    outcome = kit.run("models", "check", "--config", str(config))

    assert outcome.code == 1
    assert outcome.stdout.splitlines() == [
        "claude-opus-5-5 (Opus 5.5, in the account) is newer than claude-opus-4-8: "
        "python manage_langfuse.py models add claude-opus-5-5",
        "claude-opus-5 (Opus 5, in the account) is newer than claude-opus-4-8: "
        "python manage_langfuse.py models add claude-opus-5",
        "claude-sonnet-5-5 (Sonnet 5.5, in the account) is newer than claude-sonnet-4-6: "
        "python manage_langfuse.py models add claude-sonnet-5-5",
    ]
    assert (
        "claude-sonnet-5 is newer but this account cannot use it "
        "(no such inference profile in this region)" in outcome.stderr
    )


def test_check_of_the_repository_config_finds_nothing_newer(kit: Kit) -> None:
    outcome = kit.run("models", "check", "--offline")

    assert outcome.code == 0
    assert "has the newest Claude model of each tier it uses" in outcome.stderr


def test_add_writes_the_route_its_fallbacks_and_tier_name_and_keeps_comments(
    kit: Kit, config: Path, account: BedrockAccount
) -> None:
    outcome = kit.run("models", "add", "opus-5.5", "--config", str(config))

    assert outcome.code == 0, outcome.stderr
    assert "added claude-opus-5-5 (us.anthropic.claude-opus-5-5, $4.4 / $22" in outcome.stderr
    text = config.read_text(encoding="utf-8")
    assert "# Fallbacks, kept as they are." in text
    document = yaml.safe_load(text)
    first = document["model_list"][0]
    assert first["model_name"] == "claude-opus-5-5"
    assert first["model_info"]["max_input_tokens"] == 1_000_000
    assert document["router_settings"]["fallbacks"] == [
        {"claude-opus-5-5": ["claude-opus-4-8", "claude-sonnet-4-6"]},
        {"claude-opus-4-8": ["claude-sonnet-4-6"]},
        {"opus": ["claude-opus-4-8", "claude-sonnet-4-6"]},
    ]
    assert document["router_settings"]["model_group_alias"]["opus"]["model"] == "claude-opus-5-5"
    validated = validate_config(config, kit.settings())
    assert validated.aliases["opus"] == "claude-opus-5-5"


def test_add_refuses_a_model_the_account_cannot_use_and_leaves_the_file(
    kit: Kit, config: Path, account: BedrockAccount
) -> None:
    outcome = kit.run("models", "add", "claude-sonnet-5", "--config", str(config))

    assert outcome.code == 1
    assert "cannot use us.anthropic.claude-sonnet-5 (no such inference profile" in outcome.stderr
    assert config.read_text(encoding="utf-8") == OLD_CONFIG


def test_add_of_an_unknown_model_names_the_known_ones(kit: Kit, config: Path) -> None:
    outcome = kit.run("models", "add", "claude-opus-9", "--offline", "--config", str(config))

    assert outcome.code == 1
    assert "'claude-opus-9' is not a Claude opus/sonnet/haiku model" in outcome.stderr
    assert "claude-opus-5-5" in outcome.stderr


def test_add_of_a_configured_group_is_refused(kit: Kit, config: Path) -> None:
    outcome = kit.run("models", "add", "claude-opus-4-8", "--offline", "--config", str(config))

    assert outcome.code == 1
    assert "claude-opus-4-8 is already a model group" in outcome.stderr


def test_without_credentials_the_account_is_not_checked_and_said_so(
    kit: Kit, config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    kit.env_file.write_text(
        "\n".join(
            line
            for line in kit.env_file.read_text(encoding="utf-8").splitlines()
            if not line.startswith(("AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="))
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    outcome = kit.run("models", "list", "--config", str(config))

    assert outcome.code == 0
    assert "WARN account not checked: no AWS credentials found" in outcome.stderr


def test_add_to_the_repository_config_extends_its_comment_table_of_chains(
    kit: Kit, tmp_path: Path
) -> None:
    config = tmp_path / "repository_copy.yml"
    config.write_text((REPO_ROOT / "litellm_config.yml").read_text(encoding="utf-8"))

    outcome = kit.run("models", "add", "claude-opus-4-6", "--offline", "--config", str(config))

    assert outcome.code == 0, outcome.stderr
    text = config.read_text(encoding="utf-8")
    assert "  #   claude-opus-4-6 -> claude-sonnet-5-5\n" in text
    assert "    - claude-opus-4-6: [claude-sonnet-5-5]\n" in text
    validated = validate_config(config, kit.settings())
    assert validated.model_groups[-1] == "claude-opus-4-6"
    assert validated.aliases["opus"] == "claude-opus-5-5"


def test_a_profile_whose_model_the_region_does_not_know_is_not_usable(
    kit: Kit, config: Path, account: BedrockAccount
) -> None:
    del account.models["anthropic.claude-opus-4-8"]

    outcome = kit.run("models", "list", "--config", str(config))

    assert outcome.code == 0
    assert "  account     no: the region does not know anthropic.claude-opus-4-8" in (
        outcome.stdout.splitlines()
    )


def test_check_names_a_newer_model_in_the_account_that_litellm_cannot_price_yet(
    kit: Kit, tmp_path: Path, account: BedrockAccount
) -> None:
    account.profiles["us.anthropic.claude-opus-6"] = "ACTIVE"
    config = tmp_path / "repository_copy.yml"
    config.write_text((REPO_ROOT / "litellm_config.yml").read_text(encoding="utf-8"))

    outcome = kit.run("models", "check", "--config", str(config))

    assert outcome.code == 1
    assert outcome.stdout.splitlines() == [
        "claude-opus-6 (Opus 6, in the account) is newer than claude-opus-5-5, but the pinned "
        "LiteLLM's cost map does not know it: upgrade LiteLLM to route and price it"
    ]
