"""What an ordinary input token of a model costs, from the pinned LiteLLM price map.

The report prices cache reads "as if they had been ordinary input" to show what prompt caching
saved. The proxy computes costs with LiteLLM's map, so the same map (the copy inside the pinned
`litellm` package, read as JSON: importing litellm takes seconds) gives the matching price. A
model the map does not know is priced from the generation's own cost details instead.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

PRICE_MAP_FILE = "model_prices_and_context_window_backup.json"


@cache
def _price_map() -> dict[str, dict]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.origin:
        return {}
    path = Path(spec.origin).parent / PRICE_MAP_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


@cache
def input_price(model: str) -> float | None:
    """USD per uncached input token of `model` (a Bedrock id as Langfuse shows it), or None."""
    prices = _price_map()
    for name in (model, f"bedrock/{model}", model.rsplit("/", 1)[-1]):
        price = prices.get(name, {}).get("input_cost_per_token")
        if isinstance(price, int | float):
            return float(price)
    return None
