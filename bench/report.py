"""From raw runs to figures: medians with their spread, paired ratios, targets, the machine.

Repetitions are paired: repetition i of every configuration ran in the same round, under the
same load from the rest of the machine, so a ratio is taken within each round and the
report gives the median of those ratios with their minimum and maximum. "No slower" means
the difference of the medians is within the run-to-run spread (the larger of the two
configurations' max - min). Overheads are latencies above the stand-in's own, measured once
directly (`upstream`): with a fixed delay it barely moves between rounds.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from .stats import spread

Run = Mapping[str, Any]
Metric = Callable[[Run, Run], float | None]

SPREAD_RULE = (
    "Each figure is the median of the repetitions, with min and max. Ratios are taken "
    "within each round (configurations of one round ran back to back) and summarised the "
    "same way. Overhead: latency above the stand-in's own, measured directly. 'No slower' "
    "means the difference of the medians is at most the run-to-run spread: the larger of "
    "the two configurations' (max - min)."
)


def _phase(run: Run, phase: str, *path: str) -> Any:
    value: Any = run["phases"][phase]
    for key in path:
        if value is None:
            return None
        value = value[key]
    return value


def latency_p50(run: Run, upstream: Run) -> float | None:
    return _phase(run, "latency", "latency_ms", "p50")


def requests_per_s(run: Run, upstream: Run) -> float | None:
    return _phase(run, "saturation", "requests_per_s")


def overhead_p50(run: Run, upstream: Run) -> float | None:
    """Latency above the stand-in's own, measured directly in the same round."""
    proxied, direct = latency_p50(run, upstream), latency_p50(upstream, upstream)
    return None if proxied is None or direct is None else proxied - direct


def overhead_p99(run: Run, upstream: Run) -> float | None:
    proxied = _phase(run, "latency", "latency_ms", "p99")
    direct = _phase(upstream, "latency", "latency_ms", "p99")
    return None if proxied is None or direct is None else proxied - direct


def _max_over_phases(run: Run, key: str) -> float | None:
    values = [phase[key] for phase in run["phases"].values() if phase.get(key) is not None]
    return max(values) if values else None


def _stand_ins_cpu(run: Run) -> float:
    """The most CPU the stand-ins took together in one phase (0 when measured directly)."""
    return max(sum(phase["neighbours_cpu_percent"].values()) for phase in run["phases"].values())


FIGURES: dict[str, Metric] = {
    "latency_p50_ms": latency_p50,
    "latency_p95_ms": lambda run, up: _phase(run, "latency", "latency_ms", "p95"),
    "latency_p99_ms": lambda run, up: _phase(run, "latency", "latency_ms", "p99"),
    "overhead_p50_ms": overhead_p50,
    "overhead_p99_ms": overhead_p99,
    "requests_per_s": requests_per_s,
    "ttft_p50_ms": lambda run, up: _phase(run, "stream", "ttft_ms", "p50"),
    "ttft_p99_ms": lambda run, up: _phase(run, "stream", "ttft_ms", "p99"),
    "cpu_ms_per_request": lambda run, up: _phase(run, "saturation", "server_cpu_ms_per_request"),
    "rss_mb": lambda run, up: _max_over_phases(run, "server_rss_mb"),
    "loadgen_cpu_percent_max": lambda run, up: _max_over_phases(run, "loadgen_cpu_percent"),
    "stand_ins_cpu_percent_max": lambda run, up: _stand_ins_cpu(run),
}


def summarize(runs: Sequence[Run], upstream: Run) -> dict[str, Any]:
    """Every figure of one configuration as median/min/max over its rounds."""
    summary = {
        name: spread([metric(run, upstream) for run in runs]) for name, metric in FIGURES.items()
    }
    summary["errors"] = sum(phase["errors"] for run in runs for phase in run["phases"].values())
    return summary


@dataclass(frozen=True)
class Ratio:
    """A ratio between two configurations and the target it is held to."""

    name: str
    numerator: str
    denominator: str
    metric: Metric
    target: str | None  # "<= x", ">= x", "no slower", or None (shown, not judged)
    meaning: str = ""  # what a ratio without a target tells

    def evaluate(self, runs: Mapping[str, Sequence[Run]], upstream: Run) -> dict[str, Any]:
        result: dict[str, Any] = {"name": self.name, "target": self.target}
        if self.meaning:
            result["meaning"] = self.meaning
        if self.numerator not in runs or self.denominator not in runs:
            return result | {"median": None, "min": None, "max": None, "status": "n/a"}
        ratios = []
        for top, bottom in zip(runs[self.numerator], runs[self.denominator], strict=True):
            over, under = self.metric(top, upstream), self.metric(bottom, upstream)
            ratios.append(None if over is None or not under else over / under)
        result |= spread(ratios)
        result["status"] = self._status(result["median"], runs, upstream)
        return result

    def _status(
        self, median: float | None, runs: Mapping[str, Sequence[Run]], upstream: Run
    ) -> str:
        if median is None:
            return "n/a"
        if self.target is None:
            return "info"
        if self.target == "no slower":
            candidate, reference = runs[self.numerator], runs[self.denominator]
            met = no_slower(candidate, reference, upstream, self.metric)
        elif self.target.startswith("<="):
            met = median <= float(self.target[2:])
        else:
            met = median >= float(self.target.removeprefix(">="))
        return "pass" if met else "miss"


def no_slower(
    candidate: Sequence[Run], reference: Sequence[Run], upstream: Run, metric: Metric
) -> bool:
    """Whether the candidate's median exceeds the reference's by at most the run spread."""
    mine = spread([metric(run, upstream) for run in candidate])
    theirs = spread([metric(run, upstream) for run in reference])
    if mine["median"] is None or theirs["median"] is None:
        return False
    allowance = max(mine["max"] - mine["min"], theirs["max"] - theirs["min"])
    return mine["median"] - theirs["median"] <= allowance


RATIOS = (
    Ratio("c/a latency p50", "c", "a", latency_p50, "<= 1.02"),
    Ratio("c/a requests per second", "c", "a", requests_per_s, ">= 0.97"),
    Ratio("c/b latency p50", "c", "b", latency_p50, "no slower"),
    Ratio(
        "d/a overhead p50",
        "d",
        "a",
        overhead_p50,
        None,
        "below 1 means the production settings cut the proxy's own overhead",
    ),
    Ratio(
        "e/c requests per second",
        "e",
        "c",
        requests_per_s,
        None,
        "a developer key with limits against the master key: the limits and what LiteLLM "
        "does for any non-admin key",
    ),
    Ratio("e/f requests per second", "e", "f", requests_per_s, ">= 0.97"),
)
CALLBACK_TARGET_MS = 1.0


def callback_check(callback: Mapping[str, Any] | None) -> dict[str, Any]:
    """The in-process callback figure held to its target (new task: the whole prompt; the
    mean, so the occasional costly request counts), and the delivery process's CPU beside."""
    if not callback or "cases" not in callback:
        return {"cpu_ms_per_100kb": None, "target": f"<= {CALLBACK_TARGET_MS} ms", "status": "n/a"}
    new_task = callback["cases"]["new_task"]
    per_100kb = new_task["cpu_ms_mean"] * 100 / callback["prompt_kb"]
    delivery = new_task.get("export_cpu_ms_mean")
    status = "pass" if per_100kb <= CALLBACK_TARGET_MS else "miss"
    return {
        "cpu_ms_per_100kb": round(per_100kb, 3),
        "delivery_cpu_ms_per_100kb": (
            round(delivery * 100 / callback["prompt_kb"], 3) if delivery is not None else None
        ),
        "target": f"<= {CALLBACK_TARGET_MS} ms",
        "status": status,
    }


def machine() -> dict[str, Any]:
    """Where the figures come from."""
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
            break
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gb": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "litellm": metadata.version("litellm"),
    }
