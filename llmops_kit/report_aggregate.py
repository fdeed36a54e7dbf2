"""Generations in, figures per group out, in one pass and without keeping the generations.

A request is a trace; its generations are its attempts (retries and fallbacks). Within a
group, a request counts once however many of its attempts fall in the group; it counts as
failed when none of those attempts succeeded, and as a fallback when one of them was. So by
model, a request that fell back from A to B is a failed request of A and a fallback of B; by
user, team, client, session or day it is one request that fell back and succeeded.

Latency, TTFT and output speed are over successful attempts: latency from start to end, TTFT
from start to the first token (streamed answers only), speed as the group's output tokens over
the time spent producing them (from the first token when known, else from the start).
Percentiles are exact (linear interpolation between the closest ranks).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC

from .report_data import Generation
from .report_prices import input_price

DIMENSIONS: dict[str, Callable[[Generation], str]] = {
    "user": lambda g: g.user,
    "team": lambda g: g.team,
    "model": lambda g: g.model_group,
    "day": lambda g: g.start.astimezone(UTC).date().isoformat(),
    "session": lambda g: g.session,
    "client": lambda g: g.client,
}
_OK, _FALLBACK = 1, 2


def cache_savings(g: Generation) -> float | None:
    """Cache reads priced as ordinary input, minus what they cost; None without a price."""
    if not g.cache_read_tokens:
        return 0.0
    price = input_price(g.model)
    if price is None and g.input_tokens:
        price = g.input_cost / g.input_tokens
    return None if price is None else g.cache_read_tokens * price - g.cache_read_cost


@dataclass
class Figures:
    """Running sums for one group; `row()` gives the finished figures."""

    generations: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: float = 0.0
    input_cost: float = 0.0
    output_cost: float = 0.0
    cache_read_cost: float = 0.0
    cache_write_cost: float = 0.0
    cache_savings: float = 0.0
    unpriced_cache_reads: int = 0
    generating_seconds: float = 0.0
    generated_tokens: int = 0
    latencies: array = field(default_factory=lambda: array("d"))
    ttfts: array = field(default_factory=lambda: array("d"))
    requests: dict[str, int] = field(default_factory=dict)

    def add(self, g: Generation) -> None:
        self.generations += 1
        self.input_tokens += g.input_tokens
        self.output_tokens += g.output_tokens
        self.cache_read_tokens += g.cache_read_tokens
        self.cache_write_tokens += g.cache_write_tokens
        self.cost += g.cost
        self.input_cost += g.input_cost
        self.output_cost += g.output_cost
        self.cache_read_cost += g.cache_read_cost
        self.cache_write_cost += g.cache_write_cost
        savings = cache_savings(g)
        if savings is None:
            self.unpriced_cache_reads += g.cache_read_tokens
        else:
            self.cache_savings += savings
        flags = self.requests.get(g.trace_id, 0)
        flags |= (0 if g.failed else _OK) | (_FALLBACK if g.fallback else 0)
        self.requests[g.trace_id] = flags
        if g.failed or g.latency_s is None:
            return
        self.latencies.append(g.latency_s)
        if g.ttft_s is not None:
            self.ttfts.append(g.ttft_s)
        producing = g.latency_s - (g.ttft_s or 0.0)
        if g.output_tokens and producing > 0:
            self.generating_seconds += producing
            self.generated_tokens += g.output_tokens

    def row(self) -> dict[str, float | int | None]:
        """The figures of the group, in COLUMNS order (see report_output)."""
        latencies, ttfts = sorted(self.latencies), sorted(self.ttfts)
        return {
            "requests": len(self.requests),
            "failed_requests": sum(1 for f in self.requests.values() if not f & _OK),
            "fallbacks": sum(1 for f in self.requests.values() if f & _FALLBACK),
            "generations": self.generations,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": self.cost,
            "input_cost_usd": self.input_cost,
            "output_cost_usd": self.output_cost,
            "cache_read_cost_usd": self.cache_read_cost,
            "cache_write_cost_usd": self.cache_write_cost,
            "cache_savings_usd": self.cache_savings,
            "latency_p50_s": percentile(latencies, 50),
            "latency_p95_s": percentile(latencies, 95),
            "ttft_p50_s": percentile(ttfts, 50),
            "ttft_p95_s": percentile(ttfts, 95),
            "output_tokens_per_s": self.generated_tokens / self.generating_seconds
            if self.generating_seconds
            else None,
        }


def percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Aggregate:
    """The totals, the groups of each dimension asked for, and what the HTML charts need."""

    dimensions: tuple[str, ...]
    totals: Figures = field(default_factory=Figures)
    groups: dict[str, dict[str, Figures]] = field(default_factory=dict)
    cost_by_day_and_model: dict[tuple[str, str], float] = field(default_factory=dict)
    cost_by_day_and_model_id: dict[tuple[str, str], float] = field(default_factory=dict)
    ttfts_by_model: dict[str, array] = field(default_factory=dict)

    def add(self, g: Generation) -> None:
        self.totals.add(g)
        for dimension in self.dimensions:
            key = DIMENSIONS[dimension](g)
            self.groups.setdefault(dimension, {}).setdefault(key, Figures()).add(g)
        day = DIMENSIONS["day"](g)
        for cells, cell in (
            (self.cost_by_day_and_model, (day, g.model_group)),
            (self.cost_by_day_and_model_id, (day, g.model)),
        ):
            cells[cell] = cells.get(cell, 0.0) + g.cost
        if g.ttft_s is not None and not g.failed:
            self.ttfts_by_model.setdefault(g.model_group, array("d")).append(g.ttft_s)

    def ranked(self, dimension: str) -> list[tuple[str, Figures]]:
        """The dimension's groups, highest cost first (days in calendar order)."""
        groups = self.groups.get(dimension, {})
        if dimension == "day":
            return sorted(groups.items())
        return sorted(groups.items(), key=lambda item: (-item[1].cost, item[0]))


def aggregate(generations: Iterable[Generation], dimensions: Iterable[str]) -> Aggregate:
    result = Aggregate(tuple(dimensions))
    for g in generations:
        result.add(g)
    return result
