"""What a request may cost at most, estimated before it is sent: the reservation of limits.py.

The estimate is an upper bound so that the overshoot bound holds: input at the dearest input
price of the route's group and fallbacks (cache writes included), plus the output the request
allows (`max_tokens`, or the route's maximum output unless LLMOPS_BUDGET_OUTPUT_TOKENS caps it)
at the dearest output price. Input tokens are counted as a third of the body's UTF-8 bytes,
which is more than Claude's tokenizer gives for text and code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import jsontext

BYTES_PER_TOKEN = 3
MICROS = 1_000_000
_OUTPUT_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
_INPUT_FIELDS = ("messages", "system", "tools", "input", "instructions", "prompt")
_INPUT_PRICES = (
    "input_cost_per_token",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
)
_BEDROCK_PREFIXES = ("bedrock/converse/", "bedrock/invoke/", "bedrock/")


@dataclass(frozen=True)
class RoutePrice:
    """Dollars per token, the dearest of a group's routes, and its largest output."""

    input: float
    output: float
    max_output: int


def model_price(model: str, cost_map: Mapping[str, Any]) -> RoutePrice | None:
    """One LiteLLM model (`bedrock/converse/us.anthropic...`) priced from the cost map."""
    for prefix in ("", *_BEDROCK_PREFIXES):
        name = model.removeprefix(prefix) if prefix else model
        entry = cost_map.get(name)
        if entry and entry.get("output_cost_per_token") is not None:
            return RoutePrice(
                input=max(float(entry.get(field) or 0) for field in _INPUT_PRICES),
                output=float(entry["output_cost_per_token"]),
                max_output=int(entry.get("max_output_tokens") or 0),
            )
    return None


def dearest(prices: Iterable[RoutePrice]) -> RoutePrice | None:
    prices = list(prices)
    if not prices:
        return None
    return RoutePrice(
        input=max(p.input for p in prices),
        output=max(p.output for p in prices),
        max_output=max(p.max_output for p in prices),
    )


class Prices:
    """Prices per model group, from the router's deployments and fallbacks, cached."""

    def __init__(
        self, routes: Callable[[], Mapping[str, list[str]]], cost_map: Mapping[str, Any]
    ) -> None:
        self._routes = routes  # group -> LiteLLM models it may reach (its own and fallbacks)
        self._cost_map = cost_map
        self._cache: dict[str, RoutePrice | None] = {}

    def for_group(self, group: str) -> RoutePrice | None:
        if group not in self._cache:
            routes = self._routes()
            models = routes.get(group) or [m for ms in routes.values() for m in ms]
            priced = (model_price(m, self._cost_map) for m in models)
            self._cache[group] = dearest(p for p in priced if p is not None)
        return self._cache[group]


def input_tokens(body: Mapping[str, Any]) -> int:
    """An upper estimate of the request's input tokens from the size of what it sends."""
    parts = {name: body[name] for name in _INPUT_FIELDS if name in body}
    return math.ceil(len(jsontext.encode(parts)) / BYTES_PER_TOKEN)


def output_tokens(body: Mapping[str, Any], price: RoutePrice, cap: int | None) -> int:
    """What the request allows the model to write: its own maximum, else the cap or route's."""
    for name in _OUTPUT_FIELDS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return cap or price.max_output


def estimate_micros(body: Mapping[str, Any], price: RoutePrice, cap: int | None) -> int:
    cost = input_tokens(body) * price.input + output_tokens(body, price, cap) * price.output
    return math.ceil(cost * MICROS)
