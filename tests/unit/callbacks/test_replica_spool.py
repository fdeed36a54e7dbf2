"""Spool slots of replicas sharing one volume: one slot per live proxy, orphans adopted.

Real processes hold the slots (a lock lives as long as its process), the adopter drains into
the Langfuse stand-in with the real worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callbacks import mapping, replica_spool
from callbacks.spool import Spool
from callbacks.spool_health import default_spool_dir
from tests.fakes.langfuse.harness import LangfuseStandIn, running_langfuse

from .doubles import span_row

REPO = Path(__file__).resolve().parents[3]
# A proxy stand-in: takes a slot as the entrypoint does, prints it, then lives until killed.
HOLDER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from callbacks import replica_spool
slot = replica_spool.claim_slot(Path(sys.argv[2]), Path(sys.argv[3]))
print(slot.directory.name, flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def langfuse() -> Iterator[LangfuseStandIn]:
    with running_langfuse() as running:
        yield running


@pytest.fixture
def holders(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def _hold(holders: list[subprocess.Popen[str]], base: Path, runtime: Path) -> str:
    runtime.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(REPO), str(base), str(runtime)],
        stdout=subprocess.PIPE,
        text=True,
    )
    holders.append(process)
    assert process.stdout is not None
    return process.stdout.readline().strip()


def _spool(directory: Path) -> Spool:
    return Spool(directory, max_bytes=10**9, shrink=mapping.without_bodies, settle_seconds=1.0)


def test_each_live_proxy_holds_its_own_slot_and_a_dead_one_frees_it(
    tmp_path: Path, holders: list[subprocess.Popen[str]]
) -> None:
    base = tmp_path / "spool"

    names = [_hold(holders, base, tmp_path / f"run{n}") for n in range(3)]
    holders[1].kill()
    holders[1].wait()
    again = _hold(holders, base, tmp_path / "run3")

    assert names == ["replica-0", "replica-1", "replica-2"]
    assert again == "replica-1"
    assert oct(base.stat().st_mode & 0o777) == "0o700"
    assert oct((base / "replica-0.lock").stat().st_mode & 0o777) == "0o600"


def test_status_reads_the_slot_the_proxy_noted(
    tmp_path: Path, holders: list[subprocess.Popen[str]]
) -> None:
    base, runtime = tmp_path / "spool", tmp_path / "run"
    _hold(holders, base, runtime)

    environ = {"LLMOPS_RUNTIME_DIR": str(runtime), "LLMOPS_SPOOL_DIR": str(base)}

    assert default_spool_dir(environ) == str(base / "replica-0")
    assert default_spool_dir({"LLMOPS_SPOOL_DIR": str(base)}) == str(base)


def _environ(langfuse: LangfuseStandIn) -> dict[str, str]:
    return {
        **os.environ,
        "LANGFUSE_HOST": langfuse.url,
        "LANGFUSE_PUBLIC_KEY": langfuse.public_key,
        "LANGFUSE_SECRET_KEY": langfuse.secret_key,
    }


def test_an_orphaned_slot_is_drained_to_langfuse_and_a_held_one_is_left_alone(
    tmp_path: Path, holders: list[subprocess.Popen[str]], langfuse: LangfuseStandIn
) -> None:
    langfuse.reset()
    base = tmp_path / "spool"
    held = _hold(holders, base, tmp_path / "run")
    _spool(base / held).append([span_row(1)])
    # A replica removed by a scale-down left spans in its slot; nobody holds it.
    _spool(base / "replica-5").append([span_row(2), span_row(3)])

    left = replica_spool.adopt_once(base, _environ(langfuse), round_seconds=30)

    assert left == {"replica-5": 0}
    assert sorted(s["spanId"] for s in langfuse.spans()) == [f"{n:016x}" for n in (2, 3)]
    assert replica_spool.backlog(base / held) == 1


def test_a_spool_from_before_slots_is_adopted_too(
    tmp_path: Path, langfuse: LangfuseStandIn
) -> None:
    langfuse.reset()
    base = tmp_path / "spool"
    _spool(base).append([span_row(7)])

    left = replica_spool.adopt_once(base, _environ(langfuse), round_seconds=30)

    assert left == {"spool": 0}
    assert [s["spanId"] for s in langfuse.spans()] == [f"{7:016x}"]


def test_the_adopter_ends_with_the_proxy_that_started_it(tmp_path: Path) -> None:
    """Natively nothing else would stop it: it must not outlive its proxy."""
    adopter = [sys.executable, str(REPO / "callbacks" / "replica_spool.py"), "adopt", str(tmp_path)]
    script = (
        "import os, subprocess, sys\n"
        f"child = subprocess.Popen({adopter!r} + [str(os.getpid())],"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(child.pid, flush=True)\n"
    )
    parent = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    pid = int(parent.stdout)

    deadline = time.monotonic() + replica_spool.ADOPT_EVERY_SECONDS + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie has ended: init reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False
