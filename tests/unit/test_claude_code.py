"""The Claude Code ids the kit plans for are the ones the real CLI sent (captured fixture)."""

from __future__ import annotations

import json

from llmops_kit.claude_code import TIER_IDS, model_variables
from llmops_kit.settings import REPO_ROOT

CAPTURED = json.loads(
    (REPO_ROOT / "tests" / "integration" / "data" / "claude_code_requests.json").read_text(
        encoding="utf-8"
    )
)


def _sent(scenario: str) -> set[str]:
    return {r["body"]["model"] for r in CAPTURED["scenarios"][scenario]["requests"]}


def test_tier_ids_are_what_claude_code_sends_by_default_and_for_each_tier() -> None:
    assert _sent("default") == _sent("subagent") == {TIER_IDS["opus"]}
    assert _sent("model_sonnet") == {TIER_IDS["sonnet"]}
    assert _sent("model_haiku") == {TIER_IDS["haiku"]}


def test_the_1m_suffix_never_reaches_the_proxy_it_becomes_a_beta_header() -> None:
    [request] = CAPTURED["scenarios"]["env_sonnet_4_6_1m"]["requests"]
    assert request["body"]["model"] == "claude-sonnet-4-6"
    assert "context-1m-2025-08-07" in request["headers"]["anthropic-beta"].split(",")


def test_no_variables_when_every_tier_id_is_served() -> None:
    routes = [("claude-opus-5-5", "us.anthropic.claude-opus-5-5")]
    assert model_variables(routes, set(TIER_IDS.values())) == []


def test_a_tier_without_its_id_points_at_the_newest_group_of_the_tier() -> None:
    routes = [
        ("claude-opus-4-7", "us.anthropic.claude-opus-4-7"),
        ("claude-opus-4-8", "us.anthropic.claude-opus-4-8"),
        ("claude-haiku-4-5", "us.anthropic.claude-haiku-4-5-20251001-v1:0"),
    ]
    served = {"claude-opus-4-7", "claude-opus-4-8", "claude-haiku-4-5"}
    assert model_variables(routes, served) == [
        ("ANTHROPIC_DEFAULT_OPUS_MODEL", "claude-opus-4-8"),
        ("ANTHROPIC_DEFAULT_HAIKU_MODEL", "claude-haiku-4-5"),
    ]
