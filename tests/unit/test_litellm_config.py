"""litellm_config.yml as LiteLLM loads it, and the checks `start`/`doctor` run on it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmops_kit import settings
from llmops_kit.errors import ConfigError
from llmops_kit.litellm_config import (
    cost_map,
    load_rendered,
    offline_router_settings,
    validate_config,
)
from llmops_kit.model_catalog import TIERS, claude_models, newest_by_tier, parse_base_id
from llmops_kit.settings import REPO_ROOT

CONFIG = REPO_ROOT / "litellm_config.yml"
CLAUDE_CODE_REQUESTS = REPO_ROOT / "tests" / "integration" / "data" / "claude_code_requests.json"
MASTER_KEY = "sk-" + "m" * 40
DEVELOPER_KEY = "sk-" + "d" * 40
PREFIX_REGIONS = {
    "us": "us-east-1",
    "eu": "eu-central-1",
    "jp": "ap-northeast-1",
    "au": "ap-southeast-2",
    "global": "sa-east-1",
}


def _settings(prefix: str = "us", region: str = "us-east-1", **extra: str) -> dict[str, str]:
    return {
        "BEDROCK_PROFILE_PREFIX": prefix,
        "AWS_REGION": region,
        "LITELLM_MASTER_KEY": MASTER_KEY,
        **extra,
    }


def _variant(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """The repository's config with one change, written to tmp_path."""
    document = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "litellm_config.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _deployment(document: dict[str, Any], group: str) -> dict[str, Any]:
    return next(d for d in document["model_list"] if d["model_name"] == group)


@pytest.fixture(scope="module")
def router() -> Any:
    """The repository's config loaded by LiteLLM's own Router, as the proxy loads it."""
    cost_map()  # first: makes LiteLLM use its pinned cost map, not GitHub's
    import litellm

    document = load_rendered(CONFIG, _settings())
    deployments = document["model_list"]
    for deployment in deployments:
        deployment["litellm_params"]["aws_region_name"] = "us-east-1"
    return litellm.Router(model_list=deployments, **offline_router_settings(document))


def test_every_fallback_target_is_a_model_group_litellm_loaded(router: Any) -> None:
    groups = set(router.get_model_names())
    chains = [*router.fallbacks, *router.context_window_fallbacks]

    targets = {name for chain in chains for names in chain.values() for name in names}
    sources = {source for chain in chains for source in chain}
    assert targets <= groups
    assert sources <= groups | set(router.model_group_alias)


def test_every_route_litellm_loaded_is_priced_by_its_cost_map(router: Any) -> None:
    import litellm

    for deployment in router.model_list:
        model = deployment["litellm_params"]["model"]
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=1000, completion_tokens=1000
        )
        assert prompt_cost > 0 and completion_cost > 0, model


def test_context_window_fallbacks_lead_to_larger_windows(router: Any) -> None:
    windows = {d["model_name"]: d["model_info"]["max_input_tokens"] for d in router.model_list}

    for chain in router.context_window_fallbacks:
        for source, targets in chain.items():
            assert all(windows[target] > windows[source] for target in targets)


@pytest.mark.parametrize(("prefix", "region"), PREFIX_REGIONS.items())
def test_repository_config_validates_for_each_prefix_offering_every_model(
    prefix: str, region: str
) -> None:
    validated = validate_config(CONFIG, _settings(prefix, region))

    assert validated.model_groups[:5] == (
        "claude-opus-5-5",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
        "claude-opus-5",
        "claude-sonnet-5",
    )
    assert all(route.model_id.startswith(f"{prefix}.anthropic.") for route in validated.routes)


def test_validated_routes_carry_the_limits_bedrock_enforces() -> None:
    validated = validate_config(CONFIG, _settings())

    prices = cost_map()
    for route in validated.routes:
        enforced = prices[route.model_id]
        assert (route.max_input_tokens, route.max_output_tokens) == (
            enforced["max_input_tokens"],
            enforced["max_output_tokens"],
        )


def test_prefix_lacking_a_configured_model_is_rejected_naming_model_and_fix() -> None:
    with pytest.raises(ConfigError) as rejected:
        validate_config(CONFIG, _settings("apac", "ap-southeast-1"))

    assert "apac does not offer claude-sonnet-4-5" in rejected.value.message
    assert "BEDROCK_PROFILE_PREFIX=global" in rejected.value.fix


def test_prefix_that_does_not_serve_the_region_is_rejected() -> None:
    with pytest.raises(ConfigError) as rejected:
        validate_config(CONFIG, _settings("us", "eu-west-1"))

    assert "AWS_REGION=eu-west-1" in rejected.value.message
    assert "BEDROCK_PROFILE_PREFIX=eu or global" in rejected.value.fix


@pytest.mark.parametrize(
    ("prefix", "region"),
    [("jp", "ap-southeast-1"), ("au", "ap-northeast-1"), ("us", "us-gov-west-1")],
)
def test_narrow_prefixes_are_rejected_outside_their_regions(prefix: str, region: str) -> None:
    with pytest.raises(ConfigError, match=f"AWS_REGION={region}"):
        validate_config(CONFIG, _settings(prefix, region))


def test_fallback_to_a_missing_group_is_rejected(tmp_path: Path) -> None:
    def add_fallback(document: dict[str, Any]) -> None:
        document["router_settings"]["fallbacks"].append({"claude-sonnet-4-5": ["claude-sonnet-4"]})

    with pytest.raises(ConfigError, match="'claude-sonnet-4', which is not a model group"):
        validate_config(_variant(tmp_path, add_fallback), _settings())


def test_fallback_entry_that_is_not_a_mapping_to_a_list_is_rejected(tmp_path: Path) -> None:
    def flatten(document: dict[str, Any]) -> None:
        document["router_settings"]["fallbacks"] = ["claude-sonnet-4-5"]

    with pytest.raises(ConfigError, match="has an entry 'claude-sonnet-4-5'"):
        validate_config(_variant(tmp_path, flatten), _settings())


def test_route_through_bedrock_invoke_is_rejected(tmp_path: Path) -> None:
    def use_invoke(document: dict[str, Any]) -> None:
        params = _deployment(document, "claude-haiku-4-5")["litellm_params"]
        params["model"] = params["model"].replace("bedrock/converse/", "bedrock/invoke/")

    with pytest.raises(ConfigError, match="not through bedrock/converse/"):
        validate_config(_variant(tmp_path, use_invoke), _settings())


def test_credentials_written_into_the_config_are_rejected(tmp_path: Path) -> None:
    def add_secret(document: dict[str, Any]) -> None:
        params = _deployment(document, "claude-haiku-4-5")["litellm_params"]
        params["aws_secret_access_key"] = "a-literal-secret"

    with pytest.raises(ConfigError) as rejected:
        validate_config(_variant(tmp_path, add_secret), _settings())

    assert "aws_secret_access_key" in rejected.value.message
    assert "a-literal-secret" not in str(rejected.value)


def test_max_input_tokens_above_what_bedrock_enforces_is_rejected(tmp_path: Path) -> None:
    def overstate(document: dict[str, Any]) -> None:
        _deployment(document, "claude-sonnet-4-5")["model_info"]["max_input_tokens"] = 1_000_000

    with pytest.raises(ConfigError, match="Bedrock enforces 200000"):
        validate_config(_variant(tmp_path, overstate), _settings())


def test_context_window_fallback_to_a_window_no_larger_is_rejected(tmp_path: Path) -> None:
    def shrink(document: dict[str, Any]) -> None:
        document["router_settings"]["context_window_fallbacks"] = [
            {"claude-sonnet-4-6": ["claude-haiku-4-5"]}
        ]

    with pytest.raises(ConfigError, match="whose window is not larger"):
        validate_config(_variant(tmp_path, shrink), _settings())


def test_router_setting_litellm_does_not_know_is_rejected(tmp_path: Path) -> None:
    def misspell(document: dict[str, Any]) -> None:
        document["router_settings"]["num_retires"] = 2

    with pytest.raises(ConfigError, match="LiteLLM rejects"):
        validate_config(_variant(tmp_path, misspell), _settings())


def test_reference_to_an_unset_variable_is_rejected_naming_it(tmp_path: Path) -> None:
    def reference(document: dict[str, Any]) -> None:
        _deployment(document, "claude-haiku-4-5")["litellm_params"]["aws_region_name"] = (
            "os.environ/BEDROCK_REGION_TYPO"
        )

    with pytest.raises(ConfigError, match="BEDROCK_REGION_TYPO is not set"):
        validate_config(_variant(tmp_path, reference), _settings())


def test_callback_module_missing_from_callbacks_dir_is_rejected(tmp_path: Path) -> None:
    def add_callback(document: dict[str, Any]) -> None:
        document["litellm_settings"]["callbacks"].append("callbacks.no_such_module.handler")

    with pytest.raises(ConfigError, match=r"no_such_module\.py does not exist"):
        validate_config(_variant(tmp_path, add_callback), _settings())


def test_route_past_its_deprecation_date_is_a_warning_not_an_error() -> None:
    validated = validate_config(CONFIG, _settings("eu", "eu-central-1"))

    assert any("eu.anthropic.claude-haiku-4-5" in warning for warning in validated.warnings)


def test_keys_file_is_counted(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yml"
    keys.write_text(yaml.safe_dump([{"key": DEVELOPER_KEY, "user": "alice"}]), encoding="utf-8")

    validated = validate_config(CONFIG, _settings(LLMOPS_KEYS_FILE=str(keys)))

    assert validated.developer_keys == 1


def test_broken_keys_file_is_rejected_without_showing_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yml"
    keys.write_text(yaml.safe_dump([{"key": DEVELOPER_KEY, "usr": "alice"}]), encoding="utf-8")

    with pytest.raises(ConfigError) as rejected:
        validate_config(CONFIG, _settings(LLMOPS_KEYS_FILE=str(keys)))

    assert "line 1: unknown field(s) usr" in rejected.value.message
    assert DEVELOPER_KEY not in str(rejected.value)


def test_missing_keys_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        validate_config(CONFIG, _settings(LLMOPS_KEYS_FILE=str(tmp_path / "absent.yml")))


def test_relative_keys_file_is_found_beside_the_env_file(tmp_path: Path) -> None:
    (tmp_path / "keys.yml").write_text(
        yaml.safe_dump([{"key": DEVELOPER_KEY, "user": "alice"}]), encoding="utf-8"
    )
    resolved = settings.load(tmp_path / ".env", _settings(LLMOPS_KEYS_FILE="keys.yml"))

    assert validate_config(CONFIG, resolved).developer_keys == 1


def test_every_model_id_claude_code_sends_is_served_without_settings() -> None:
    validated = validate_config(CONFIG, _settings())
    captured = json.loads(CLAUDE_CODE_REQUESTS.read_text(encoding="utf-8"))
    sent = {
        request["body"]["model"]
        for scenario in captured["scenarios"].values()
        if not scenario["env"].get("ANTHROPIC_MODEL")
        for request in scenario["requests"]
    }

    assert "claude-opus-5-5" in sent
    assert sent <= set(validated.model_groups) | set(validated.aliases)


def test_tier_names_name_the_newest_model_of_their_tier_in_the_cost_map() -> None:
    validated = validate_config(CONFIG, _settings())
    newest = newest_by_tier(claude_models(cost_map()))

    assert validated.aliases == {tier: newest[tier].group for tier in TIERS}


def test_each_group_falls_back_to_its_previous_generation_then_the_next_tier() -> None:
    validated = validate_config(CONFIG, _settings())
    models = {r.group: parse_base_id(r.model_id) for r in validated.routes}
    next_tier = {"opus": "sonnet", "sonnet": "haiku", "haiku": "sonnet"}

    for group in ("claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5"):
        same_tier, other_tier = (models[name] for name in validated.fallbacks[group])
        assert models[group].newer_than(same_tier)
        assert other_tier.tier == next_tier[models[group].tier]
        assert other_tier.version >= (5, 0)


def test_alias_to_a_missing_group_is_rejected(tmp_path: Path) -> None:
    def point_away(document: dict[str, Any]) -> None:
        document["router_settings"]["model_group_alias"]["opus"] = "claude-opus-9"

    with pytest.raises(ConfigError, match="sends 'opus' to 'claude-opus-9'"):
        validate_config(_variant(tmp_path, point_away), _settings())


def test_alias_named_like_a_group_is_rejected(tmp_path: Path) -> None:
    def shadow(document: dict[str, Any]) -> None:
        document["router_settings"]["model_group_alias"]["claude-opus-4-8"] = "claude-opus-5-5"

    with pytest.raises(ConfigError, match="'claude-opus-4-8' is also a model group"):
        validate_config(_variant(tmp_path, shadow), _settings())


def test_alias_whose_chain_differs_from_its_groups_is_rejected(tmp_path: Path) -> None:
    def drop_alias_chain(document: dict[str, Any]) -> None:
        chains = document["router_settings"]["fallbacks"]
        document["router_settings"]["fallbacks"] = [c for c in chains if "opus" not in c]

    with pytest.raises(ConfigError) as rejected:
        validate_config(_variant(tmp_path, drop_alias_chain), _settings())

    assert "'opus' leads to claude-opus-5-5, but its fallbacks [] are not" in rejected.value.message
    assert "- opus: [claude-opus-5, claude-sonnet-5-5]" in rejected.value.fix
