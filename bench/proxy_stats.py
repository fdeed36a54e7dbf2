"""CPU time and memory of the server behind a loopback port, read from Linux's /proc.

The proxy is found by its listening socket rather than by a process id: with
`--num_workers N` uvicorn's supervisor and every worker hold that socket, and no wrapper
process (manage_langfuse.py, the entrypoint shim) does. Its descendants count too, found
through the parent pid in /proc/<pid>/stat: each proxy process starts the callback's delivery
process, which does the export work the proxy would otherwise do itself, so leaving it out
would flatter the callback. psutil is not among the kit's dependencies; /proc gives the same
figures on Linux, where the benchmark runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_LISTEN_STATE = "0A"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Sample:
    """Total CPU seconds and resident memory of a set of processes at one moment."""

    cpu_seconds: float
    rss_bytes: int


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == _LISTEN_STATE:
                inodes.add(fields[9])
    return inodes


def server_pids(port: int) -> list[int]:
    """Every process holding the socket that listens on `port`."""
    targets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    pids: list[int] = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in targets for fd in (entry / "fd").iterdir()):
                pids.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return sorted(pids)


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:  # gone meanwhile
        return None
    return stat.rsplit(")", 1)[1].split()


def with_descendants(pids: list[int]) -> list[int]:
    """`pids` and every process descending from them, each once."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        fields = _stat_fields(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    pending = list(pids)
    while pending:
        pid = pending.pop()
        if pid not in found:
            found.add(pid)
            pending += children.get(pid, [])
    return sorted(found)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (its own, not its waited-for children's)."""
    fields = _stat_fields(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident memory of one process alone (0 once it is gone)."""
    try:
        return int((PROC / str(pid) / "statm").read_text().split()[1]) * _PAGE_SIZE
    except OSError:
        return 0


def sample(pids: list[int]) -> Sample:
    """CPU (user + system) and RSS summed over `pids` and their descendants."""
    cpu = 0.0
    rss = 0
    for pid in with_descendants(pids):
        cpu += cpu_seconds(pid)
        rss += rss_bytes(pid)
    return Sample(cpu_seconds=cpu, rss_bytes=rss)
