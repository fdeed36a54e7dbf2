"""Langfuse's own usage and cost inference, for generations that arrive without them.

The real worker (IngestionService.createEventRecord -> getGenerationUsage, events write path)
matches the generation's model name against its model table; when the span provides neither
usage nor cost it tokenizes the stored input and output with the model's tokenizer and prices
the counts. On this path the observation's level is not passed on, so an ERROR generation is
priced like any other. Provided costs are used as given; provided usage without cost is priced.

What differs here, on purpose:
- the table holds only the Claude models on Bedrock that the kit routes or that LiteLLM's
  pinned map lists for Claude Code's defaults, with prices from that map (the unprefixed
  `anthropic.` entry, which equals `global.`); Langfuse's table charges every regional profile
  the same, and so does this one;
- match patterns follow Langfuse's (`(?i)^(anthropic/)?<name>` or
  `<region>.anthropic.<name>(-v1(:0)?)?`), a regional prefix included;
- the tokenizer is an approximation of Anthropic's (about four characters per token,
  rounded up), not the real one: a test can tell "priced" from "not priced", never a count.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN = 4
REGION_PREFIX = r"(?:(?:eu|us|apac|au|jp|global|us-gov)\.)?"


@dataclass(frozen=True)
class ModelPrice:
    """One model of Langfuse's table: its match pattern and USD per token by usage key."""

    name: str
    bedrock_id: str
    pattern: re.Pattern[str]
    prices: dict[str, float]


def _claude(
    name: str,
    bedrock_id: str,
    *,
    input: float,
    output: float,
    cache_read: float,
    cache_write: float,
) -> ModelPrice:
    """Prices keyed as Langfuse's default Claude models are (its aliases included)."""
    pattern = rf"(?i)^(?:anthropic/)?(?:{re.escape(name)}|{REGION_PREFIX}{re.escape(bedrock_id)})$"
    return ModelPrice(
        name=name,
        bedrock_id=bedrock_id,
        pattern=re.compile(pattern),
        prices={
            "input": input,
            "input_tokens": input,
            "output": output,
            "output_tokens": output,
            "cache_read_input_tokens": cache_read,
            "input_cached_tokens": cache_read,
            "input_cache_read": cache_read,
            "cache_creation_input_tokens": cache_write,
            "input_cache_creation": cache_write,
        },
    )


# USD per token from LiteLLM 1.106.2's model_prices_and_context_window_backup.json, in the
# order input, output, cache read, cache write (tests/unit/fakes/test_langfuse_fake.py checks
# each against the pinned map).
_TABLE = (
    ("claude-sonnet-4-6", "anthropic.claude-sonnet-4-6", 3e-06, 1.5e-05, 3e-07, 3.75e-06),
    (
        "claude-sonnet-4-5",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        3e-06,
        1.5e-05,
        3e-07,
        3.75e-06,
    ),
    ("claude-haiku-4-5", "anthropic.claude-haiku-4-5-20251001-v1:0", 1e-06, 5e-06, 1e-07, 1.25e-06),
    ("claude-opus-4-7", "anthropic.claude-opus-4-7", 5e-06, 2.5e-05, 5e-07, 6.25e-06),
    ("claude-opus-4-8", "anthropic.claude-opus-4-8", 5e-06, 2.5e-05, 5e-07, 6.25e-06),
    ("claude-opus-5", "anthropic.claude-opus-5", 5e-06, 2.5e-05, 5e-07, 6.25e-06),
    ("claude-sonnet-5", "anthropic.claude-sonnet-5", 2e-06, 1e-05, 2e-07, 2.5e-06),
    ("claude-opus-5-5", "anthropic.claude-opus-5-5", 4e-06, 2e-05, 2e-07, 5e-06),
    ("claude-sonnet-5-5", "anthropic.claude-sonnet-5-5", 2e-06, 1e-05, 1e-07, 2.5e-06),
    ("claude-haiku-5-5", "anthropic.claude-haiku-5-5", 1e-07, 5e-07, 1e-08, 1.25e-07),
)
MODELS: tuple[ModelPrice, ...] = tuple(
    _claude(name, bedrock_id, input=i, output=o, cache_read=r, cache_write=w)
    for name, bedrock_id, i, o, r, w in _TABLE
)


def find_model(provided_name: str) -> ModelPrice | None:
    """The first model whose pattern matches the provided model name, as Langfuse's findModel."""
    return next((model for model in MODELS if model.pattern.match(provided_name)), None)


def approximate_tokens(text: str | None) -> int | None:
    """An approximate Claude token count (about 4 characters each); None for absent text."""
    if text is None:
        return None
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def enrich(
    *,
    model_name: str,
    provided_usage: dict[str, Any],
    provided_cost: dict[str, Any],
    input_text: str | None,
    output_text: str | None,
) -> tuple[dict[str, int], dict[str, float]]:
    """Usage and cost as the worker stores them (IngestionService.getUsageUnits and
    calculateUsageCosts), from what the span provided; the level plays no part."""
    model = find_model(model_name) if model_name else None
    usage = dict(provided_usage)
    if model and not usage and not provided_cost:
        counts = {
            "input": approximate_tokens(input_text),
            "output": approximate_tokens(output_text),
        }
        usage = {key: count for key, count in counts.items() if count is not None}
        if usage.get("input") or usage.get("output"):
            usage["total"] = usage.get("input", 0) + usage.get("output", 0)
    elif usage and "total" not in usage:
        usage["total"] = sum(usage.values())
    return usage, _costs(model, provided_cost, usage)


def _costs(
    model: ModelPrice | None, provided: dict[str, Any], usage: dict[str, int]
) -> dict[str, float]:
    if provided:
        cost = dict(provided)
        if "total" not in cost and cost.keys() <= {"input", "output"}:
            cost["total"] = cost.get("input", 0) + cost.get("output", 0)
        return cost
    if model is None:
        return {}
    cost = {key: model.prices[key] * units for key, units in usage.items() if key in model.prices}
    if cost:
        cost["total"] = sum(cost.values())
    return cost
