"""The Claude family as read from the pinned cost map: ids parsed, newest per tier, chains."""

from __future__ import annotations

import pytest

from llmops_kit.errors import ConfigError
from llmops_kit.litellm_config import cost_map
from llmops_kit.model_catalog import (
    claude_models,
    fallbacks_for,
    find,
    newest_by_tier,
    parse_base_id,
)


@pytest.mark.parametrize(
    ("model_id", "tier", "version", "group"),
    [
        ("us.anthropic.claude-opus-5-5", "opus", (5, 5), "claude-opus-5-5"),
        ("anthropic.claude-sonnet-5", "sonnet", (5, 0), "claude-sonnet-5"),
        ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", "haiku", (4, 5), "claude-haiku-4-5"),
        ("anthropic.claude-sonnet-4-20250514-v1:0", "sonnet", (4, 0), "claude-sonnet-4"),
        ("us-gov.anthropic.claude-opus-4-6-v1", "opus", (4, 6), "claude-opus-4-6"),
    ],
)
def test_bedrock_ids_parse_to_tier_version_and_group_name(
    model_id: str, tier: str, version: tuple[int, int], group: str
) -> None:
    model = parse_base_id(model_id)

    assert model is not None
    assert (model.tier, model.version, model.group) == (tier, version, group)


@pytest.mark.parametrize(
    "model_id", ["anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-fable-5", "x"]
)
def test_other_models_are_not_taken_for_a_tier(model_id: str) -> None:
    assert parse_base_id(model_id) is None


def test_the_newest_of_each_tier_in_the_pinned_cost_map() -> None:
    newest = newest_by_tier(claude_models(cost_map()))

    assert {tier: model.group for tier, model in newest.items()} == {
        "opus": "claude-opus-5-5",
        "sonnet": "claude-sonnet-5-5",
        "haiku": "claude-haiku-5-5",
    }


@pytest.mark.parametrize("name", ["claude-opus-5-5", "opus-5.5", "us.anthropic.claude-opus-5-5"])
def test_a_model_is_found_by_group_name_dotted_version_or_bedrock_id(name: str) -> None:
    assert find(name, cost_map()).base_id == "anthropic.claude-opus-5-5"


def test_an_unknown_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'claude-opus-9' is not a Claude"):
        find("claude-opus-9", cost_map())


def test_a_new_group_falls_back_to_its_tiers_previous_generation_then_the_next_tier() -> None:
    prices = cost_map()
    configured = [find(n, prices) for n in ("opus-5", "opus-4-8", "sonnet-5-5", "haiku-5-5")]

    assert [m.group for m in fallbacks_for(find("opus-5-5", prices), configured)] == [
        "claude-opus-5",
        "claude-sonnet-5-5",
    ]
    assert [m.group for m in fallbacks_for(find("haiku-5-5", prices), configured)] == [
        "claude-sonnet-5-5"
    ]
