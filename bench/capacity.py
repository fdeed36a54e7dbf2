"""`python -m bench.capacity [--quick] [--rounds N] [--out FILE]`: the capacity of one proxy.

Two ways of running the same proxy (the kit's config, callbacks and routes) are compared in
one run, one at a time, in rotated order each round, against the Bedrock and Langfuse
stand-ins: `stock`, with LiteLLM's own defaults for what the kit tunes (every variable of
callbacks/proxy_entrypoint.py's CAPACITY_ENVIRONMENT set empty, which LiteLLM reads as
unset), and `kit`, as the kit's compose stack runs it (the entrypoint's settings and
bench.configs.PRODUCTION_ENVIRONMENT). Each is saturated (a closed loop of 32 clients,
streaming, as Cline and Claude Code always stream) with two 100 KB workloads: Cline's
(`/v1/chat/completions`) and Claude Code's (`/v1/messages`, its headers and body shape).

Per workload: the proxy's CPU per request and requests/s per core (requests/s divided by the
cores the proxy used meanwhile, so the figure holds on a machine whose cores are shared), both
counting the proxy's process and its children (the callback's delivery process), and the
resident memory of the worker. The ratios kit/stock are taken within each round. Prints the
table and the ratios, writes the JSON report; never run as a test
(tests/unit/test_bench_capacity.py checks its parts).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from callbacks.proxy_entrypoint import CAPACITY_ENVIRONMENT
from tests.fakes.bedrock.harness import RunningBedrock, running_bedrock
from tests.fakes.langfuse.harness import LangfuseStandIn, running_langfuse
from tests.integration import claude_code_requests as claude_code
from tests.integration.proxy_harness import RunningProxy, start_proxy

from . import report, table
from .configs import PRODUCTION_ENVIRONMENT, kit_callbacks
from .measure import REPO_ROOT, Phase, Target, run_phase
from .payload import DEFAULT_PROMPT_KB, SESSION_ID, chat_body, messages_body
from .stats import spread

DEFAULT_OUT = REPO_ROOT / "bench" / "results" / "capacity.json"
UPSTREAM_LATENCY_MS = 50
TOKEN_INTERVAL_MS = 20
CONCURRENCY = 32
PROBE_TIMEOUT_S = 60.0
CPU_TARGET = "<= 0.8"
PER_CORE_TARGET = ">= 1.25"


@dataclass(frozen=True)
class Plan:
    rounds: int
    warmup_s: float
    duration_s: float


FULL = Plan(rounds=3, warmup_s=2.0, duration_s=8.0)
QUICK = Plan(rounds=1, warmup_s=0.5, duration_s=1.5)


@dataclass(frozen=True)
class Workload:
    """One client's requests: where they go, the body, the headers besides the key."""

    name: str
    path: str
    body_file: Path
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Setting:
    """One way of running the proxy: the environment it adds."""

    name: str
    environment: Mapping[str, str]


SETTINGS = (
    Setting("stock", {name: "" for name in CAPACITY_ENVIRONMENT}),
    Setting("kit", PRODUCTION_ENVIRONMENT),
)


def workloads(work: Path, prompt_kb: int) -> tuple[Workload, ...]:
    """Cline's and Claude Code's requests of `prompt_kb` KB, written under `work`."""
    cline, claude = work / "cline.json", work / "claude-code.json"
    cline.write_bytes(chat_body(prompt_kb, stream=True))
    claude.write_bytes(messages_body(prompt_kb, stream=True))
    sent = claude_code.headers("unused", SESSION_ID)
    headers = tuple(f"{k}: {v}" for k, v in sent.items() if k != "authorization")
    return (
        Workload("cline", "/v1/chat/completions", cline),
        Workload("claude_code", "/v1/messages", claude, headers),
    )


class ProbeFailed(RuntimeError):
    """The proxy did not answer a workload's first request; the message holds its log's tail."""


def _probe(proxy: RunningProxy, workload: Workload) -> None:
    """One request of the workload, read to its end: it must succeed before load is measured."""
    headers = dict(h.split(": ", 1) for h in workload.headers)
    headers |= {"Authorization": f"Bearer {proxy.master_key}", "Content-Type": "application/json"}
    response = httpx.post(
        proxy.url + workload.path,
        content=workload.body_file.read_bytes(),
        headers=headers,
        timeout=PROBE_TIMEOUT_S,
    )
    if response.status_code != 200:
        raise ProbeFailed(
            f"{workload.name}: the proxy answered {response.status_code}:\n"
            f"{response.text[:500]}\n{proxy.log_tail()}"
        )


def gc_collections(proxy: RunningProxy) -> list[int]:
    """How many collections the worker's garbage collector has run, per generation (LiteLLM's
    memory details, master key only; it counts objects too: call it outside a measured window)."""
    response = httpx.get(
        f"{proxy.url}/debug/memory/details?top_n=1&include_process_info=false",
        headers={"Authorization": f"Bearer {proxy.master_key}"},
        timeout=PROBE_TIMEOUT_S,
    )
    response.raise_for_status()
    history = response.json()["garbage_collector"]["collection_history"]
    return [generation["total_collections"] for generation in history]


def measure_setting(
    setting: Setting,
    loads: Sequence[Workload],
    plan: Plan,
    *,
    bedrock: RunningBedrock,
    langfuse: LangfuseStandIn,
    work_dir: Path,
) -> dict[str, Any]:
    """Start the proxy with the setting, saturate it with each workload in turn, stop it."""
    environment = {
        "LANGFUSE_HOST": langfuse.url,
        "LANGFUSE_PUBLIC_KEY": langfuse.public_key,
        "LANGFUSE_SECRET_KEY": langfuse.secret_key,
        **setting.environment,
    }
    phases = {}
    with start_proxy(
        bedrock, work_dir, callbacks=kit_callbacks(), env_overrides=environment
    ) as proxy:
        for workload in loads:
            _probe(proxy, workload)
        port = httpx.URL(proxy.url).port or 80
        neighbours = {"bedrock_stand_in": bedrock.port, "langfuse_stand_in": langfuse.port}
        for workload in loads:
            target = Target(
                port=port,
                url=proxy.url + workload.path,
                stream_url=proxy.url + workload.path,
                body_file=workload.body_file,
                stream_body_file=workload.body_file,
                authorization=f"Bearer {proxy.master_key}",
                headers=workload.headers,
            )
            phase = Phase(workload.name, concurrency=CONCURRENCY, stream=True)
            before = gc_collections(proxy)
            result = run_phase(
                target,
                phase,
                warmup_s=plan.warmup_s,
                duration_s=plan.duration_s,
                neighbours=neighbours,
            )
            after = gc_collections(proxy)
            # Over the whole phase, warm-up included.
            result["gc_collections"] = [b - a for a, b in zip(before, after, strict=True)]
            phases[workload.name] = result
            bedrock.reset()
    return phases


def figures(phase: Mapping[str, Any]) -> dict[str, float | None]:
    """What one phase says about capacity."""
    cores = phase["server_cpu_percent"] / 100
    rate = phase["requests_per_s"]
    return {
        "cpu_ms_per_request": phase["server_cpu_ms_per_request"],
        "requests_per_s": rate,
        "cores": round(cores, 3),
        "requests_per_s_per_core": round(rate / cores, 2) if cores else None,
        "worker_rss_mb": phase["worker_rss_mb"],
        "proxy_rss_mb": phase["server_rss_mb"],
        "latency_p50_ms": phase["latency_ms"]["p50"],
        "ttft_p50_ms": (phase["ttft_ms"] or {}).get("p50"),
        "errors": phase["errors"],
        "full_collections": phase["gc_collections"][2],
    }


RATIOS = (
    ("CPU per request", "cpu_ms_per_request", CPU_TARGET),
    ("requests/s per core", "requests_per_s_per_core", PER_CORE_TARGET),
)


def _met(median: float | None, target: str) -> str:
    if median is None:
        return "n/a"
    bound = float(target[2:])
    return "pass" if (median <= bound if target.startswith("<=") else median >= bound) else "miss"


def summarize(runs: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """Per setting and workload, each figure's median/min/max over the rounds; then the
    kit/stock ratios, taken within each round."""
    loads = list(next(iter(runs.values()))[0])
    table = {
        name: {
            load: {
                figure: spread([figures(run[load])[figure] for run in rounds_])
                for figure in figures(rounds_[0][load])
            }
            for load in loads
        }
        for name, rounds_ in runs.items()
    }
    ratios = []
    for load in loads:
        for title, figure, target in RATIOS:
            values = []
            for kit, stock in zip(runs["kit"], runs["stock"], strict=True):
                over, under = figures(kit[load])[figure], figures(stock[load])[figure]
                values.append(None if over is None or not under else over / under)
            summary = spread(values)
            ratios.append(
                {"name": f"{load}: kit/stock {title}", "target": target, **summary}
                | {"status": _met(summary["median"], target)}
            )
    return {"figures": table, "ratios": ratios}


def render(result: Mapping[str, Any]) -> str:
    """The table, then one line per ratio (last, so `| tail` shows them)."""
    machine, settings = result["machine"], result["settings"]
    lines = [
        f"machine: {machine['nproc']} CPUs ({machine['cpu_model']}), Python {machine['python']}, "
        f"LiteLLM {machine['litellm']}",
        f"Bedrock stand-in: {settings['upstream_latency_ms']} ms latency, a token every "
        f"{settings['token_interval_ms']} ms; {settings['prompt_kb']} KB requests, streamed, "
        f"{settings['concurrency']} clients; {settings['rounds']} round(s) of "
        f"{settings['warmup_s']} s warm-up + {settings['duration_s']} s per workload",
        "",
    ]
    columns = (
        ("CPU ms/req", "cpu_ms_per_request"),
        ("req/s", "requests_per_s"),
        ("cores", "cores"),
        ("req/s per core", "requests_per_s_per_core"),
        ("worker RSS MB", "worker_rss_mb"),
        ("proxy RSS MB", "proxy_rss_mb"),
        ("p50 ms", "latency_p50_ms"),
        ("full GCs", "full_collections"),
    )
    rows = [("", "", [title for title, _ in columns])]
    for name, loads in result["summary"]["figures"].items():
        for load, spreads in loads.items():
            rows.append((load, name, [table.cell(spreads[key]) for _, key in columns]))
    widths = [max(len(cells[i]) for *_, cells in rows) for i in range(len(columns))]
    for load, name, cells in rows:
        padded = "  ".join(text.rjust(width) for text, width in zip(cells, widths, strict=True))
        lines.append(f"{load:<12} {name:<6} {padded}")
    lines += ["", "Figures: median ±half the run-to-run range; ratios within each round."]
    for ratio in result["summary"]["ratios"]:
        median = "-" if ratio["median"] is None else f"{ratio['median']:.3f}"
        low = "-" if ratio["min"] is None else f"{ratio['min']:.3f}"
        high = "-" if ratio["max"] is None else f"{ratio['max']:.3f}"
        lines.append(
            f"{ratio['name']}: {median} (min {low}, max {high})   "
            f"target {ratio['target']}: {ratio['status']}"
        )
    return "\n".join(lines)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure_all(plan: Plan, prompt_kb: int) -> dict[str, list[dict[str, Any]]]:
    """Every round: each setting in turn (the order rotates), both workloads each."""
    runs: dict[str, list[dict[str, Any]]] = {setting.name: [] for setting in SETTINGS}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="llmops-capacity-")))
        bedrock = stack.enter_context(
            running_bedrock(
                latency_ms=UPSTREAM_LATENCY_MS,
                token_interval_ms=TOKEN_INTERVAL_MS,
                bearer_token=secrets.token_hex(16),
            )
        )
        langfuse = stack.enter_context(running_langfuse())
        loads = workloads(work, prompt_kb)
        for number in range(plan.rounds):
            shift = number % len(SETTINGS)
            for setting in SETTINGS[shift:] + SETTINGS[:shift]:
                _progress(f"round {number + 1}/{plan.rounds}: {setting.name}")
                langfuse.reset()
                runs[setting.name].append(
                    measure_setting(
                        setting,
                        loads,
                        plan,
                        bedrock=bedrock,
                        langfuse=langfuse,
                        work_dir=work / f"{setting.name}-{number}",
                    )
                )
    return runs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.capacity", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="one short round: checks it runs")
    parser.add_argument("--rounds", type=int, help="rounds (default: 3; --quick: 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON report")
    parser.add_argument("--prompt-kb", type=int, default=DEFAULT_PROMPT_KB, help="request size")
    return parser


def main(argv: list[str] | None = None) -> None:
    arguments = _parser().parse_args(argv)
    plan = QUICK if arguments.quick else FULL
    if arguments.rounds is not None:
        if arguments.rounds < 1:
            _parser().error(f"--rounds must be at least 1, got {arguments.rounds}")
        plan = Plan(arguments.rounds, plan.warmup_s, plan.duration_s)
    started = time.monotonic()
    runs = measure_all(plan, arguments.prompt_kb)
    result = {
        "benchmark": "llmops-kit capacity of one proxy",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 1),
        "machine": report.machine(),
        "settings": {
            "rounds": plan.rounds,
            "warmup_s": plan.warmup_s,
            "duration_s": plan.duration_s,
            "upstream_latency_ms": UPSTREAM_LATENCY_MS,
            "token_interval_ms": TOKEN_INTERVAL_MS,
            "prompt_kb": arguments.prompt_kb,
            "concurrency": CONCURRENCY,
            "kit_environment": dict(CAPACITY_ENVIRONMENT) | dict(PRODUCTION_ENVIRONMENT),
        },
        "runs": runs,
        "summary": summarize(runs),
    }
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(render(result))
    print(f"(report written to {arguments.out})", file=sys.stderr)


if __name__ == "__main__":
    main()
