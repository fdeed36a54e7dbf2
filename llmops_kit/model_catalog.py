"""Claude on Bedrock as the pinned LiteLLM's cost map knows it: tier, version, ids, prices.

A hand-kept model list goes stale with every release; the cost map that ships with the
pinned LiteLLM does not (it is what prices every trace). `models list/check/add` and
doctor's `models.newer` read the Claude family from it, and `models add` writes a route
from it, so ids, limits and prices are never typed by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

# Tiers from the most to the least capable: a chain falls back to the next one.
TIERS = ("opus", "sonnet", "haiku")
BEDROCK_PROVIDERS = frozenset({"bedrock", "bedrock_converse"})
_BASE_ID = re.compile(
    r"anthropic\.claude-(?P<tier>opus|sonnet|haiku)-(?P<major>\d+)(?:-(?P<minor>\d{1,2}))?"
    r"(?:-(?P<date>\d{8}))?(?:-v\d+)?(?::\d+)?"
)
_GROUP_NAME = re.compile(
    r"(?:claude-)?(?P<tier>opus|sonnet|haiku)-(?P<version>\d+(?:[-.]\d{1,2})?)"
)


@dataclass(frozen=True)
class ClaudeModel:
    """One Claude model on Bedrock: `base_id` is the id without an inference-profile prefix."""

    base_id: str
    tier: str
    version: tuple[int, int]

    @property
    def group(self) -> str:
        """The group name clients send (Claude Code's own ids): claude-opus-5-5, claude-opus-5."""
        major, minor = self.version
        return f"claude-{self.tier}-{major}" + (f"-{minor}" if minor else "")

    @property
    def label(self) -> str:
        major, minor = self.version
        return f"{self.tier.capitalize()} {major}" + (f".{minor}" if minor else "")

    def profile_id(self, prefix: str) -> str:
        return f"{prefix}.{self.base_id}"

    def newer_than(self, other: ClaudeModel) -> bool:
        return self.tier == other.tier and self.version > other.version


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens, as the cost map prices a profile."""

    input: float
    output: float

    def __str__(self) -> str:
        return f"${self.input:g} / ${self.output:g}"


def parse_base_id(model_id: str) -> ClaudeModel | None:
    """The Claude model behind a Bedrock id, with or without a profile prefix; None if not one."""
    base = model_id[model_id.index("anthropic.") :] if "anthropic." in model_id else model_id
    match = _BASE_ID.fullmatch(base)
    if match is None:
        return None
    version = (int(match["major"]), int(match["minor"] or 0))
    return ClaudeModel(base_id=base, tier=match["tier"], version=version)


def claude_models(prices: Mapping[str, Any]) -> list[ClaudeModel]:
    """Every Claude opus/sonnet/haiku model on Bedrock in the cost map, newest first per tier.

    A version listed under several base ids (dated, `-v1:0`) is the one most profiles offer.
    """
    found: dict[tuple[str, tuple[int, int]], tuple[int, ClaudeModel]] = {}
    for key, entry in prices.items():
        if not key.startswith("anthropic.") or entry.get("litellm_provider") not in (
            BEDROCK_PROVIDERS
        ):
            continue
        model = parse_base_id(key)
        if model is None:
            continue
        reach = len(profile_prefixes(model, prices))
        known = found.get((model.tier, model.version))
        if known is None or reach > known[0]:
            found[(model.tier, model.version)] = (reach, model)
    models = [model for _, model in found.values()]
    return sorted(models, key=lambda m: (TIERS.index(m.tier), [-v for v in m.version]))


def profile_prefixes(model: ClaudeModel, prices: Mapping[str, Any]) -> list[str]:
    """The inference-profile prefixes (us, eu, global...) the cost map offers `model` under."""
    suffix = f".{model.base_id}"
    return sorted(key[: -len(suffix)] for key in prices if key.endswith(suffix) and "/" not in key)


def price(model_id: str, prices: Mapping[str, Any]) -> Price | None:
    entry = prices.get(model_id)
    if not entry or not entry.get("input_cost_per_token"):
        return None
    return Price(
        input=round(float(entry["input_cost_per_token"]) * 1e6, 6),
        output=round(float(entry["output_cost_per_token"]) * 1e6, 6),
    )


def newest_by_tier(models: Iterable[ClaudeModel]) -> dict[str, ClaudeModel]:
    newest: dict[str, ClaudeModel] = {}
    for model in models:
        if model.tier not in newest or model.newer_than(newest[model.tier]):
            newest[model.tier] = model
    return newest


def find(name: str, prices: Mapping[str, Any]) -> ClaudeModel:
    """The model a user names: `claude-opus-5-5`, `opus-5.5`, or a Bedrock (profile) id."""
    models = claude_models(prices)
    by_id = parse_base_id(name)
    if by_id is not None:
        for model in models:
            if (model.tier, model.version) == (by_id.tier, by_id.version):
                return model
    match = _GROUP_NAME.fullmatch(name.strip().lower())
    if match is not None:
        major, _, minor = match["version"].replace(".", "-").partition("-")
        version = (int(major), int(minor or 0))
        for model in models:
            if (model.tier, model.version) == (match["tier"], version):
                return model
    known = ", ".join(m.group for m in models[:12])
    raise ConfigError(
        f"{name!r} is not a Claude opus/sonnet/haiku model on Bedrock in the pinned LiteLLM's "
        "cost map",
        fix=f"Name one of {known}, ... (`python manage_langfuse.py models check` lists them).",
    )


@dataclass(frozen=True)
class Newer:
    """A model of a configured tier that is newer than the tier's newest configured group."""

    model: ClaudeModel
    configured: ClaudeModel


def configured_models(model_ids: Iterable[str]) -> dict[str, ClaudeModel]:
    """The Claude models behind configured routes' Bedrock ids, by route model id."""
    found = {model_id: parse_base_id(model_id) for model_id in model_ids}
    return {model_id: model for model_id, model in found.items() if model is not None}


def newer_models(model_ids: Iterable[str], prices: Mapping[str, Any], prefix: str) -> list[Newer]:
    """Models the cost map offers under `prefix` that are newer than every configured model
    of their tier (only tiers the config has), newest first."""
    configured = newest_by_tier(configured_models(model_ids).values())
    newer = []
    for model in claude_models(prices):
        current = configured.get(model.tier)
        if current is not None and model.newer_than(current) and model.profile_id(prefix) in prices:
            newer.append(Newer(model, current))
    return newer


def unpriced_newer(
    profile_ids: Iterable[str], model_ids: Iterable[str], prices: Mapping[str, Any], prefix: str
) -> list[Newer]:
    """Profiles the account lists under `prefix` for a model newer than every configured one
    of its tier that the pinned cost map does not know: LiteLLM could neither price nor,
    through `bedrock/converse/`, check it until it is upgraded."""
    configured = newest_by_tier(configured_models(model_ids).values())
    known = {(m.tier, m.version) for m in claude_models(prices)}
    found: dict[tuple[str, tuple[int, int]], Newer] = {}
    for profile_id in profile_ids:
        model = parse_base_id(profile_id) if profile_id.startswith(f"{prefix}.") else None
        current = configured.get(model.tier) if model is not None else None
        if model is None or current is None or (model.tier, model.version) in known:
            continue
        if model.newer_than(current):
            found[(model.tier, model.version)] = Newer(model, current)
    return sorted(found.values(), key=lambda n: [-v for v in n.model.version])


def fallbacks_for(model: ClaudeModel, configured: Iterable[ClaudeModel]) -> list[ClaudeModel]:
    """A new group's fallbacks: the newest older model of its tier, then the newest model of
    the next tier (opus -> sonnet -> haiku; haiku, the last, goes up to sonnet)."""
    pool = [m for m in configured if m != model]
    same_tier = [m for m in pool if model.newer_than(m)]
    chain = [max(same_tier, key=lambda m: m.version)] if same_tier else []
    position = TIERS.index(model.tier)
    next_tier = TIERS[position + 1] if position + 1 < len(TIERS) else TIERS[position - 1]
    newest_next = newest_by_tier(pool).get(next_tier)
    if newest_next is not None:
        chain.append(newest_next)
    return chain
