"""The spool's health as JSON, for `status` and `doctor`: backlog, ages, counters, last error.

Runs as a script inside the proxy container, where the spool volume is:

    python /app/config/callbacks/spool_health.py [SPOOL_DIR]
    python /app/config/callbacks/spool_health.py --all [VOLUME]

SPOOL_DIR defaults to the proxy's own slot when it took one (replica_spool.py notes it in
$LLMOPS_RUNTIME_DIR/spool-dir), else $LLMOPS_SPOOL_DIR. `--all` reports every spool of the
volume (VOLUME, default $LLMOPS_SPOOL_DIR as compose sets it): each replica's slot, slots no
proxy holds any more, and a spool written before slots existed, so `down --volumes` and
`doctor` count what the other replicas and a scale-down left behind.

and is imported by spool.py. Standard library only and no package-relative import, so
both work. Opens the database read-only: reading never disturbs the delivery processes.
Exit code 0 with the JSON on stdout; 1 with a one-line reason on stderr when there is no
spool to read.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

SPOOL_FILE_NAME = "spool.db"
# Each replica's slot of the shared volume is the directory `replica-<n>` (replica_spool.py).
SLOT_PREFIX = "replica-"
ALL_FLAG = "--all"
# Written by replica_spool.py in the runtime directory: the slot the proxy spools to.
SLOT_NOTE = "spool-dir"
IN_DOUBT = "in_doubt"
COUNTERS = (
    "delivered",
    "export_failures",
    "dropped_bodies",
    "dropped_spans",
    "rejected",
    "in_doubt_found",
    "in_doubt_resent",
    "in_doubt_resent_unchecked",
    "repeated_spans",
    "dropped_events",
)


def read_health(db: sqlite3.Connection, now: float) -> dict[str, Any]:
    """Backlog, oldest age, counters and last error, as plain JSON-ready values."""
    spans, oldest = db.execute("SELECT COUNT(*), MIN(created) FROM spans").fetchone()
    in_doubt, doubt_since = db.execute(
        "SELECT COUNT(*), MIN(doubt_since) FROM spans WHERE state = ?", (IN_DOUBT,)
    ).fetchone()
    counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
    rows = db.execute("SELECT name, value, at FROM notes").fetchall()
    notes = {name: (value, at) for name, value, at in rows}
    last_error = notes.get("last_error")
    last_delivery = notes.get("last_delivery")
    check = notes.get("in_doubt_check") if in_doubt else None
    check_error = check if check and check[0] else None
    return {
        "backlog_spans": spans,
        "backlog_bytes": counters.get("bytes", 0),
        "in_doubt_spans": in_doubt,
        "in_doubt_oldest_age_seconds": _age(now, doubt_since),
        "in_doubt_check_error": check_error[0] if check_error else None,
        "in_doubt_check_error_age_seconds": _age(now, check_error[1]) if check_error else None,
        "oldest_age_seconds": _age(now, oldest),
        **{name: counters.get(name, 0) for name in COUNTERS},
        "last_error": last_error[0] if last_error else None,
        "last_error_age_seconds": _age(now, last_error[1]) if last_error else None,
        "last_delivery_age_seconds": _age(now, last_delivery[1]) if last_delivery else None,
    }


def _age(now: float, then: float | None) -> float | None:
    return None if then is None else round(max(0.0, now - then), 3)


def read_spool_health(spool_dir: Path) -> dict[str, Any]:
    """Open `spool_dir/spool.db` read-only and report; FileNotFoundError when absent."""
    path = spool_dir / SPOOL_FILE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no spool at {path}")
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        return {"spool": str(path), **read_health(db, time.time())}
    finally:
        db.close()


def spools(base: Path) -> Iterator[Path]:
    """Every spool directory of the volume: the unslotted one, then each slot's."""
    if (base / SPOOL_FILE_NAME).is_file():
        yield base
    slots = (path for path in base.glob(f"{SLOT_PREFIX}*") if path.is_dir())
    yield from sorted(slots, key=lambda path: path.name)


def read_volume_health(base: Path) -> dict[str, Any]:
    """Every spool of the volume `base`, named by its file's path relative to `base`
    (`replica-0/spool.db`): its report, or why it could not be read. A slot whose proxy has
    not spooled yet has no spool and is left out. FileNotFoundError without the volume."""
    if not base.is_dir():
        raise FileNotFoundError(f"no spool volume at {base}")
    reports: dict[str, Any] = {}
    unreadable: dict[str, str] = {}
    for spool_dir in spools(base):
        name = (spool_dir / SPOOL_FILE_NAME).relative_to(base).as_posix()
        try:
            reports[name] = read_spool_health(spool_dir)
        except FileNotFoundError:
            continue
        except sqlite3.Error as problem:
            unreadable[name] = str(problem)
    return {"volume": str(base), "spools": reports, "unreadable": unreadable}


def default_spool_dir(environ: Mapping[str, str]) -> str:
    """The running proxy's spool: its slot when it took one, else LLMOPS_SPOOL_DIR."""
    note = Path(environ.get("LLMOPS_RUNTIME_DIR") or "/nonexistent") / SLOT_NOTE
    try:
        return note.read_text(encoding="utf-8").strip()
    except OSError:
        return environ.get("LLMOPS_SPOOL_DIR", "")


def main(argv: list[str]) -> int:
    every = argv[:1] == [ALL_FLAG]
    if every:
        argv = argv[1:]
    spool_dir = argv[0] if argv else None
    if spool_dir is None:
        spool_dir = (
            os.environ.get("LLMOPS_SPOOL_DIR", "") if every else default_spool_dir(os.environ)
        )
    if not spool_dir:
        print("spool_health.py: give the spool directory or set LLMOPS_SPOOL_DIR", file=sys.stderr)
        return 1
    try:
        read = read_volume_health if every else read_spool_health
        report = read(Path(spool_dir))
    except (FileNotFoundError, sqlite3.Error) as problem:
        print(f"spool_health.py: {problem}", file=sys.stderr)
        return 1
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
