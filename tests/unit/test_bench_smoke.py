"""The benchmark's documented command runs and its report keeps the shape the README relies on.

One quick run (one configuration, one short round: about half a minute) is shared by the
module. Only the shape is checked, never a figure: timings on a shared machine prove nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.report import FIGURES, RATIOS
from bench.run import PHASES

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 240
SPREAD_KEYS = {"median", "min", "max"}

pytestmark = pytest.mark.integration  # starts the real proxy and both stand-ins


@dataclass(frozen=True)
class QuickRun:
    report: dict[str, Any]
    printed: list[str]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    out = tmp_path_factory.mktemp("bench") / "report.json"
    # A user's shell after `start`: kit variables the benchmark's own proxies must not take
    # (a DATABASE_URL sent LiteLLM looking for prisma, and the run failed at once).
    users_shell = {
        **os.environ,
        "DATABASE_URL": "postgresql://postgres:secret@postgres:5432/postgres",
        "LITELLM_MASTER_KEY": "sk-the-users-own-master-key-0123456789",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--configs", "a", "--out", str(out)],
        cwd=REPO_ROOT,
        env=users_shell,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return QuickRun(json.loads(out.read_text()), done.stdout.splitlines())


def test_each_configuration_reports_every_figure_with_its_spread(quick_run: QuickRun) -> None:
    summary = quick_run.report["configurations"]["a"]["summary"]
    assert {name: set(summary[name]) for name in FIGURES} == {name: SPREAD_KEYS for name in FIGURES}


def test_each_round_measures_every_phase(quick_run: QuickRun) -> None:
    [run] = quick_run.report["configurations"]["a"]["runs"]
    assert set(run["phases"]) == {phase.name for phase in PHASES}


def test_a_phase_reports_latency_percentiles_server_and_loadgen_cpu(quick_run: QuickRun) -> None:
    [run] = quick_run.report["configurations"]["a"]["runs"]
    phase = run["phases"]["stream"]
    assert set(phase["latency_ms"]) == set(phase["ttft_ms"]) == {"count", "p50", "p95", "p99"}
    assert {
        "requests_per_s",
        "errors",
        "server_cpu_ms_per_request",
        "server_rss_mb",
        "loadgen_cpu_percent",
    } <= set(phase)


def test_the_stand_in_is_measured_directly_for_the_overhead(quick_run: QuickRun) -> None:
    upstream = quick_run.report["upstream"]
    assert len(upstream["runs"]) == 1
    assert set(upstream["summary"]) >= set(FIGURES)


def test_the_report_lists_every_ratio_with_target_and_status(quick_run: QuickRun) -> None:
    ratios = quick_run.report["ratios"]
    assert [r["name"] for r in ratios] == [ratio.name for ratio in RATIOS]
    assert all({"target", "status"} | SPREAD_KEYS <= set(r) for r in ratios)


def test_ratios_missing_a_configuration_say_not_applicable(quick_run: QuickRun) -> None:
    assert {r["status"] for r in quick_run.report["ratios"]} == {"n/a"}


def test_the_printed_output_ends_with_the_ratios(quick_run: QuickRun) -> None:
    last_lines = quick_run.printed[-len(RATIOS) :]
    assert [line.split(":")[0] for line in last_lines] == [ratio.name for ratio in RATIOS]


def test_the_callback_is_measured_in_process_against_its_target(quick_run: QuickRun) -> None:
    callback = quick_run.report["callback"]
    assert set(callback["cases"]) == {"new_task", "resend"}
    assert {"cpu_ms_per_100kb", "target", "status"} <= set(callback)


def test_the_report_names_the_machine(quick_run: QuickRun) -> None:
    assert set(quick_run.report["machine"]) >= {"nproc", "cpu_model", "memory_gb"}
