"""Each proxy replica's own spool: a numbered slot of the shared spool volume, under a lock.

The replicas of the compose service share one spool volume (compose/litellm.yml). SQLite in
WAL mode would cope with several containers on one host, but nothing here relies on it: each
proxy takes the lowest free slot `replica-<n>/` by an exclusive `flock` on `replica-<n>.lock`
and spools there alone (its own worker processes share the slot, as they always shared the
spool). The lock is held by the proxy process itself (its descriptor survives the exec into
LiteLLM) and the kernel drops it when that process dies, however it dies. A replica that
restarts takes a free slot again, its own unless another replica is draining it at that
moment, and its delivery process replays the slot's backlog at once.

Scale-down removes containers, not the volume: a removed replica's slot has no holder. Each
proxy runs an adopter beside it (`python replica_spool.py adopt SPOOL_DIR PROXY_PID`), which every
`ADOPT_EVERY_SECONDS` looks for slots that nobody holds and that still hold spans, takes the
slot's lock (the lease: while it holds it, no new replica and no other adopter uses the
slot), delivers the spans to Langfuse as the slot's own delivery process would (same worker,
same exactly-once rules), and lets the slot go when it is empty or after
`ADOPT_ROUND_SECONDS`, to come back at the next pass. A spool written before slots existed
(`spool.db` in the volume itself) is adopted the same way.

Standard library and this package only: it runs in the LiteLLM image. Run as a script, it
first imports its own directory as the private package (like delivery.py).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

if __name__ == "__main__" and not __package__:
    from langfuse_v4 import load_package

    __package__ = load_package().__name__

from .spool_health import SLOT_NOTE, SLOT_PREFIX, read_spool_health, spools

log = logging.getLogger("llmops.callback")

# Far above the 16 replicas the kit allows: a restart while a slot is being adopted takes
# the next free number.
MAX_SLOTS = 64
# The lock of a spool written before slots existed (spool.db directly in the volume).
UNSLOTTED_LOCK = "spool.lock"
ADOPT_EVERY_SECONDS = 15.0
ADOPT_ROUND_SECONDS = 60.0


class NoFreeSlot(Exception):
    """Every slot is held: more proxies share the volume than MAX_SLOTS."""


@dataclass(frozen=True)
class Slot:
    """A held slot: its spool directory and the descriptor whose lock holds it."""

    directory: Path
    descriptor: int


def _lock(path: Path) -> int | None:
    """An exclusive, non-blocking flock on `path` (created 0600); None when held elsewhere."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def _lock_file(spool_dir: Path, base: Path) -> Path:
    return base / UNSLOTTED_LOCK if spool_dir == base else base / f"{spool_dir.name}.lock"


def claim_slot(base: Path, runtime_dir: Path) -> Slot:
    """Hold the lowest free slot of `base` for as long as this process (and what it execs)
    lives, and note it in `runtime_dir` for `status`. The descriptor is inheritable across
    exec and closed in children started later."""
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    for number in range(MAX_SLOTS):
        directory = base / f"{SLOT_PREFIX}{number}"
        descriptor = _lock(_lock_file(directory, base))
        if descriptor is not None:
            os.set_inheritable(descriptor, True)
            directory.mkdir(mode=0o700, exist_ok=True)
            (runtime_dir / SLOT_NOTE).write_text(str(directory), encoding="utf-8")
            return Slot(directory, descriptor)
    raise NoFreeSlot(f"all {MAX_SLOTS} spool slots of {base} are held by running proxies")


def backlog(spool_dir: Path) -> int:
    """Spans waiting in `spool_dir`; 0 without a spool."""
    try:
        return int(read_spool_health(spool_dir)["backlog_spans"])
    except (FileNotFoundError, sqlite3.Error):
        return 0


def drain(spool_dir: Path, environ: Mapping[str, str], seconds: float) -> int:
    """Deliver `spool_dir`'s spans for at most `seconds`; return the spans left."""
    from .callback_settings import CallbackSettings
    from .delivery import build_worker, open_spool

    settings = CallbackSettings.from_env({**environ, "LLMOPS_SPOOL_DIR": str(spool_dir)})
    worker = build_worker(settings, open_spool(settings))
    deadline = time.monotonic() + seconds
    left = backlog(spool_dir)
    while left and time.monotonic() < deadline:
        worker.finish(max(0.0, deadline - time.monotonic()))
        left = backlog(spool_dir)
        if left:
            time.sleep(1.0)
    return left


def adopt_once(base: Path, environ: Mapping[str, str], round_seconds: float) -> dict[str, int]:
    """Drain every slot nobody holds that has spans; return the spans left per slot drained."""
    left: dict[str, int] = {}
    for spool_dir in spools(base):
        if not backlog(spool_dir):
            continue
        descriptor = _lock(_lock_file(spool_dir, base))
        if descriptor is None:
            continue  # its replica (or another adopter) holds it
        try:
            log.warning("llmops callback: adopting the orphaned spool %s", spool_dir)
            left[spool_dir.name] = drain(spool_dir, environ, round_seconds)
        finally:
            os.close(descriptor)
    return left


def adopt_forever(base: Path, environ: Mapping[str, str], proxy_pid: int) -> None:
    """Adopt orphaned slots pass after pass, until the proxy `proxy_pid` (its parent) ends."""
    while os.getppid() == proxy_pid:
        try:
            adopt_once(base, environ, ADOPT_ROUND_SECONDS)
        except Exception:
            log.exception("llmops callback: adopting orphaned spools failed; retrying")
        time.sleep(ADOPT_EVERY_SECONDS)


def main(argv: list[str]) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    if len(argv) != 3 or argv[0] != "adopt" or not argv[2].isdigit():
        print("usage: replica_spool.py adopt SPOOL_DIR PROXY_PID", file=sys.stderr)
        return 2
    adopt_forever(Path(argv[1]), os.environ, int(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
