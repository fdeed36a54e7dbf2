"""One measured phase: the load generator against one server, the server's CPU and memory.

The load generator runs as a child process and announces when its measured window opens
and closes; the server's CPU is sampled at exactly those moments, so CPU per request
covers the same requests as the latencies. The other processes on the machine that take
part (the stand-ins) are sampled too, so that none of them is a bottleneck unseen.
Phases are plain data, so the quick and the full run differ only in numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import proxy_stats
from .loadgen import AUTHORIZATION_VARIABLE

REPO_ROOT = Path(__file__).resolve().parent.parent
PHASE_TIMEOUT_MARGIN_S = 90.0
_WINDOW_EVENTS = ("measure-start", "measure-end")


@dataclass(frozen=True)
class Phase:
    """How one phase loads the server."""

    name: str
    concurrency: int
    stream: bool


@dataclass(frozen=True)
class Target:
    """Where a phase sends its requests: the URLs and bodies for both modes, and the key."""

    port: int
    url: str
    stream_url: str
    body_file: Path
    stream_body_file: Path
    authorization: str
    headers: tuple[str, ...] = ()  # extra `NAME: VALUE` headers, never a secret


class LoadGeneratorError(RuntimeError):
    """The load generator failed or said nothing usable; the message carries its stderr."""


def _command(target: Target, phase: Phase, warmup_s: float, duration_s: float) -> list[str]:
    command = [sys.executable, "-m", "bench.loadgen"]
    command += ["--url", target.stream_url if phase.stream else target.url]
    command += ["--body-file", str(target.stream_body_file if phase.stream else target.body_file)]
    command += ["--concurrency", str(phase.concurrency)]
    command += ["--warmup-s", str(warmup_s), "--duration-s", str(duration_s)]
    for header in target.headers:
        command += ["--header", header]
    return [*command, "--stream"] if phase.stream else command


def _percent(cpu_seconds: float, duration_s: float) -> float:
    return round(100 * cpu_seconds / duration_s, 1)


def run_phase(
    target: Target,
    phase: Phase,
    *,
    warmup_s: float,
    duration_s: float,
    neighbours: Mapping[str, int],
) -> dict[str, Any]:
    """Load the target for one phase: the generator's result, the server's CPU and RSS, and
    the CPU of the `neighbours` (name -> the port each listens on)."""
    watched = {"server": target.port, **neighbours}
    pids = {name: proxy_stats.server_pids(port) for name, port in watched.items()}
    samples: dict[str, dict[str, proxy_stats.Sample]] = {}
    result: dict[str, Any] | None = None
    env = {**os.environ, AUTHORIZATION_VARIABLE: target.authorization}
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            _command(target, phase, warmup_s, duration_s),
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:
            event = json.loads(line)
            if event["event"] in _WINDOW_EVENTS:
                samples[event["event"]] = {name: proxy_stats.sample(p) for name, p in pids.items()}
            elif event["event"] == "result":
                result = event
        process.wait(timeout=warmup_s + duration_s + PHASE_TIMEOUT_MARGIN_S)
        if process.returncode != 0 or result is None or len(samples) != len(_WINDOW_EVENTS):
            stderr.seek(0)
            raise LoadGeneratorError(
                f"the load generator failed (exit code {process.returncode}):\n"
                f"{stderr.read()[-2000:]}"
            )
    start, end = (samples[event] for event in _WINDOW_EVENTS)
    cpu = {name: end[name].cpu_seconds - start[name].cpu_seconds for name in watched}
    requests = result["requests"] + result["errors"]
    result.pop("event")
    result |= {
        "requests_per_s": round(result["requests_per_s"], 2),
        "server_processes": len(pids["server"]),
        "server_cpu_percent": _percent(cpu["server"], duration_s),
        "server_cpu_ms_per_request": (
            round(1000 * cpu["server"] / requests, 3) if requests else None
        ),
        "server_rss_mb": round(end["server"].rss_bytes / 2**20, 1),
        # The largest process holding the socket: one worker, its children apart.
        "worker_rss_mb": round(max(map(proxy_stats.rss_bytes, pids["server"])) / 2**20, 1),
        "loadgen_cpu_percent": round(result["loadgen_cpu_percent"], 1),
        "neighbours_cpu_percent": {name: _percent(cpu[name], duration_s) for name in neighbours},
    }
    return result
