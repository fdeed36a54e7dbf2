"""The spool's health as JSON, for `status` and `doctor`: backlog, ages, counters, last error.

Runs as a script inside the proxy container, where the spool volume is:

    python /app/config/callbacks/spool_health.py [SPOOL_DIR]

SPOOL_DIR defaults to the proxy's own slot when it took one (replica_spool.py notes it in
$LLMOPS_RUNTIME_DIR/spool-dir), else $LLMOPS_SPOOL_DIR.

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SPOOL_FILE_NAME = "spool.db"
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


def default_spool_dir(environ: Mapping[str, str]) -> str:
    """The running proxy's spool: its slot when it took one, else LLMOPS_SPOOL_DIR."""
    note = Path(environ.get("LLMOPS_RUNTIME_DIR") or "/nonexistent") / SLOT_NOTE
    try:
        return note.read_text(encoding="utf-8").strip()
    except OSError:
        return environ.get("LLMOPS_SPOOL_DIR", "")


def main(argv: list[str]) -> int:
    spool_dir = argv[0] if argv else default_spool_dir(os.environ)
    if not spool_dir:
        print("spool_health.py: give the spool directory or set LLMOPS_SPOOL_DIR", file=sys.stderr)
        return 1
    try:
        report = read_spool_health(Path(spool_dir))
    except (FileNotFoundError, sqlite3.Error) as problem:
        print(f"spool_health.py: {problem}", file=sys.stderr)
        return 1
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
