"""Percentiles of one run, and medians with their spread across repeated runs.

A single run's figure says little on a shared machine; the benchmark repeats every
configuration and reports the median of the repetitions with their minimum and maximum,
so a difference smaller than the run-to-run spread is read as no difference.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

PERCENTILES = (50, 95, 99)


def percentile(values: Sequence[float], rank: float) -> float:
    """The nearest-rank percentile (an observed value, never an interpolation)."""
    ordered = sorted(values)
    index = max(0, math.ceil(rank / 100 * len(ordered)) - 1)
    return ordered[index]


def summarize(values: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p95/p99 and the count of one run's samples (None when there are none)."""
    summary: dict[str, float | int | None] = {"count": len(values)}
    for rank in PERCENTILES:
        summary[f"p{rank}"] = round(percentile(values, rank), 3) if values else None
    return summary


def spread(values: Sequence[float | None]) -> dict[str, float | None]:
    """Median, minimum and maximum of one figure across repetitions; None values ignored."""
    present = [value for value in values if value is not None]
    if not present:
        return {"median": None, "min": None, "max": None}
    return {
        "median": round(statistics.median(present), 4),
        "min": round(min(present), 4),
        "max": round(max(present), 4),
    }
