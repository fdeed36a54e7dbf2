"""doctor's models.newer: a newer Claude model of a configured tier is a WARN with the command."""

from __future__ import annotations

from pathlib import Path

from llmops_kit.doctor import Status
from tests.unit.doctor.conftest import REPO_ROOT, ContextFactory, run_check

OLD_GROUP = """\
model_list:
  - model_name: claude-sonnet-4-6
    litellm_params:
      model: bedrock/converse/${BEDROCK_PROFILE_PREFIX}.anthropic.claude-sonnet-4-6
      aws_region_name: os.environ/AWS_REGION
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
"""


def test_a_config_with_the_newest_model_of_each_tier_passes(make_context: ContextFactory) -> None:
    finding = run_check(make_context(config=REPO_ROOT / "litellm_config.yml"), "models.newer")

    assert finding.status is Status.OK, finding.message


def test_a_newer_model_of_a_configured_tier_is_a_warning_with_the_command(
    make_context: ContextFactory, tmp_path: Path
) -> None:
    config = tmp_path / "litellm_config.yml"
    config.write_text(OLD_GROUP, encoding="utf-8")

    finding = run_check(make_context(config=config), "models.newer")

    assert finding.status is Status.WARN
    assert finding.message == (
        "us offers claude-sonnet-5-5 (newer than claude-sonnet-4-6), claude-sonnet-5 (newer "
        "than claude-sonnet-4-6), which litellm_config.yml lacks"
    )
    assert "manage_langfuse.py models add claude-sonnet-5-5" in finding.fix
