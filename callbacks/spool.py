"""The durable spool: every span waits here, in SQLite (WAL), until Langfuse acknowledged it.

Written and drained by the delivery processes (one per proxy worker process) on one volume;
`status` and `doctor` read it (spool_health.py). A process claims rows inside `BEGIN IMMEDIATE`
(SQLite's write lock), stamping `claimed_by` and `claim_expiry`, so two processes never send
the same row at once. Rows leave only on acknowledgement (or a stated drop, counted). A
claim that outlives its lease, or whose owner process is gone, may have been sent already:
such rows become *in doubt* and are checked against Langfuse's read API before they are
sent again (see worker.py), because Langfuse v4 keeps a span sent twice.

Each span id is remembered for `REMEMBER_SPOOLED_SECONDS` (table `spooled`), and a span
whose id is remembered is not spooled again (counted as `repeated_spans`): ids are derived
from the request and the attempt, so an event recorded twice (by two LiteLLM hooks, or
resent to a delivery process that restarted before acknowledging it) yields its spans once.

Storage: a span is stored as its JSON; one still waiting after `COMPRESS_AFTER_SECONDS`
(Langfuse down or slow) is compressed (`compress_waiting`). Most spans are delivered within
a second and never compressed, which would cost more CPU than anything else done for them.

Size cap, measured in stored bytes: a span that would push the spool over
`max_bytes` is stored without its input and output (metadata, usage and cost kept;
counted as `dropped_bodies`); if even that does not fit it is not stored (`dropped_spans`).
What is already spooled is never evicted: the oldest data is the data closest to delivery.

Privacy: the directory is 0700 and its files 0600 (`make_private`), whatever the umask.

Durability: WAL. A recorded span survives SIGKILL, a crash or a restart of any process at
once (the commit is in the operating system's hands), and power loss once it is fsynced:
the worker does that at the start of every round (`flush`), woken by each append, so within
milliseconds. The recording connections (`deferred_sync=True`) neither fsync
(`synchronous=NORMAL`; an fsync per commit costs CPU, see the README) nor checkpoint the WAL
back into the database; the worker's connections do both (`synchronous=FULL`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .jsontext import decode, encode
from .spool_health import IN_DOUBT, SPOOL_FILE_NAME, read_health

log = logging.getLogger("llmops.callback")

READY = "ready"
COMPRESS_AFTER_SECONDS = 5.0
COMPRESS_BATCH_ROWS = 50
# How long the ids of spooled spans are remembered, so that an event recorded twice (two
# hooks reporting one attempt, a frame resent after the delivery process restarted) spools
# its spans once. Far longer than any event waits to be recorded.
REMEMBER_SPOOLED_SECONDS = 3600.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    body BLOB NOT NULL,
    size INTEGER NOT NULL,
    stored INTEGER NOT NULL,
    created REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'ready',
    not_before REAL NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_at REAL,
    claim_expiry REAL,
    compressed INTEGER NOT NULL DEFAULT 1,
    doubt_since REAL
);
CREATE INDEX IF NOT EXISTS spans_due ON spans (state, claimed_by, not_before, id);
CREATE INDEX IF NOT EXISTS spans_raw ON spans (created) WHERE compressed = 0;
CREATE TABLE IF NOT EXISTS spooled (span_id TEXT PRIMARY KEY, at REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS spooled_at ON spooled (at);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS notes (name TEXT PRIMARY KEY, value TEXT NOT NULL, at REAL NOT NULL);
"""


@dataclass(frozen=True)
class SpanRow:
    """A span to spool, with the ids the in-doubt check looks up."""

    trace_id: str
    span_id: str
    span: Mapping[str, Any]


@dataclass(frozen=True)
class Claimed:
    """A spooled span this process holds a claim on."""

    id: int
    trace_id: str
    span_id: str
    span: dict[str, Any]
    doubt_since: float | None = None  # in doubt: when it was sent without an answer


@dataclass(frozen=True)
class AppendResult:
    stored: int
    without_bodies: int
    dropped: int
    repeated: int = 0


def owner_id() -> str:
    """`host:pid:nonce`: unique per process, and says on which host which process holds it."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def _owner_is_gone(owner: str, me: str) -> bool:
    """True only when the owner ran on this host and its process no longer exists (or this
    process now has its pid: a container restarted with the same hostname and pids)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    if int(pid_text) == os.getpid():
        return owner != me
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def make_private(directory: Path, database: Path) -> None:
    """Only the proxy's user may read the spool (it holds every developer's prompts): the
    directory 0700 and its files 0600, tightening what an earlier version left open. SQLite
    gives its -wal and -shm files the mode of the database file, which is therefore created
    0600 before SQLite opens it, whatever the umask.

    Created only if missing, never opened when it exists: closing any descriptor of a file
    drops every POSIX lock this process holds on it, SQLite's included. Without its shared
    lock, a delivery process that opens the spool twice looks gone to other processes, and
    the next one to close a connection (`status`, another delivery process) checkpoints
    and deletes the write-ahead log still in use: from then on this process writes to a
    deleted log that no other process reads."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        os.chmod(directory, 0o700)
        for entry in directory.iterdir():
            # Another process's SQLite may remove its -wal or -shm file meanwhile.
            with contextlib.suppress(FileNotFoundError):
                if entry.is_file() and not entry.is_symlink():
                    os.chmod(entry, 0o600)
    except PermissionError:  # files of another user: still usable, but say so
        log.warning(
            "llmops callback: cannot make the spool %s private to this user (not its owner); "
            "make it 0700 with files 0600 (chown it to the proxy's user)",
            directory,
        )


class Spool:
    """The spool file in `directory`; safe to use from several threads and processes."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        shrink: Callable[[Mapping[str, Any]], Mapping[str, Any]],
        settle_seconds: float,
        deferred_sync: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._deferred_sync = deferred_sync
        self.path = directory / SPOOL_FILE_NAME
        make_private(directory, self.path)
        self.max_bytes = max_bytes
        self.settle_seconds = settle_seconds
        self._shrink = shrink
        self._clock = clock
        self._local = threading.local()
        self._connection().executescript(_SCHEMA)

    # -- connections -------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """One connection per thread and process (SQLite connections must not cross a fork)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            if self._deferred_sync:
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA wal_autocheckpoint=0")
            else:
                db.execute("PRAGMA synchronous=FULL")
            self._local.db, self._local.pid = db, os.getpid()
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- writing -----------------------------------------------------------------------------

    def append(self, rows: Sequence[SpanRow]) -> AppendResult:
        """Store `rows` in one transaction, applying the size cap (module docstring); a span
        whose id was spooled before (`REMEMBER_SPOOLED_SECONDS`) is skipped and counted."""
        now = self._clock()
        stored = without_bodies = dropped = repeated = 0
        with self._transaction() as db:
            total = _counter(db, "bytes")
            for row in rows:
                if not db.execute(
                    "INSERT OR IGNORE INTO spooled (span_id, at) VALUES (?, ?)", (row.span_id, now)
                ).rowcount:
                    repeated += 1
                    continue
                body = encode(row.span)
                if total + len(body) > self.max_bytes:
                    body = encode(self._shrink(row.span))
                    if total + len(body) > self.max_bytes:
                        dropped += 1
                        continue
                    without_bodies += 1
                db.execute(
                    "INSERT INTO spans (trace_id, span_id, body, size, stored, created,"
                    " compressed) VALUES (?, ?, ?, ?, ?, ?, 0)",
                    (row.trace_id, row.span_id, body, len(body), len(body), now),
                )
                total += len(body)
                stored += 1
            _set_counter(db, "bytes", total)
            _add(db, "dropped_bodies", without_bodies)
            _add(db, "dropped_spans", dropped)
            _add(db, "repeated_spans", repeated)
        return AppendResult(stored, without_bodies, dropped, repeated)

    # -- claiming ----------------------------------------------------------------------------

    def claim(
        self, owner: str, *, state: str, lease: float, max_bytes: int, max_spans: int
    ) -> list[Claimed]:
        """Claim due rows in `state`, oldest first, up to `max_bytes` of uncompressed JSON."""
        now = self._clock()
        with self._transaction() as db:
            self._expire_claims(db, now, owner)
            candidates = db.execute(
                "SELECT id, trace_id, span_id, body, size, compressed, doubt_since FROM spans"
                " WHERE state = ? AND claimed_by IS NULL AND not_before <= ?"
                " ORDER BY id LIMIT ?",
                (state, now, max_spans),
            ).fetchall()
            chosen: list[tuple[int, str, str, bytes, int, int, float | None]] = []
            budget = 0
            for candidate in candidates:
                if chosen and budget + candidate[4] > max_bytes:
                    break
                chosen.append(candidate)
                budget += candidate[4]
            db.executemany(
                "UPDATE spans SET claimed_by = ?, claimed_at = ?, claim_expiry = ? WHERE id = ?",
                [(owner, now, now + lease, c[0]) for c in chosen],
            )
        return [
            Claimed(id_, trace, span, decode(zlib.decompress(body) if compressed else body), since)
            for id_, trace, span, body, _, compressed, since in chosen
        ]

    def _expire_claims(self, db: sqlite3.Connection, now: float, me: str) -> None:
        """Claims past their lease, or held by a process that is gone, turn in doubt."""
        owners = [
            owner
            for (owner, expiry) in db.execute(
                "SELECT claimed_by, MIN(claim_expiry) FROM spans"
                " WHERE claimed_by IS NOT NULL GROUP BY claimed_by"
            )
            if expiry < now or _owner_is_gone(owner, me)
        ]
        for owner in owners:
            db.execute(
                "UPDATE spans SET state = ?, not_before = claimed_at + ?,"
                " doubt_since = COALESCE(doubt_since, claimed_at),"
                " claimed_by = NULL, claimed_at = NULL, claim_expiry = NULL"
                " WHERE claimed_by = ?",
                (IN_DOUBT, self.settle_seconds, owner),
            )

    # -- settling claims ---------------------------------------------------------------------

    def acknowledge(self, owner: str, ids: Sequence[int]) -> int:
        """Langfuse accepted these rows: remove them and count them delivered."""
        return self._remove(owner, ids, ("delivered",), note=("last_delivery", ""))

    def found_delivered(self, owner: str, ids: Sequence[int]) -> int:
        """In-doubt rows the read API shows as present: remove them, count them delivered."""
        return self._remove(owner, ids, ("delivered", "in_doubt_found"), note=("last_delivery", ""))

    def reject(self, owner: str, ids: Sequence[int], reason: str) -> int:
        """Rows Langfuse refuses for good (malformed, too large even when shrunk)."""
        return self._remove(owner, ids, ("rejected",), note=("last_error", reason))

    def retry_later(self, owner: str, ids: Sequence[int], not_before: float) -> None:
        """Not delivered for sure (refused connection, error status): back to ready."""
        self._release(owner, ids, READY, not_before)

    def mark_in_doubt(self, owner: str, ids: Sequence[int], sent_at: float) -> None:
        """Sent, but no answer came back: check before sending again."""
        self._release(owner, ids, IN_DOUBT, sent_at + self.settle_seconds, doubt_since=sent_at)

    def resend(self, owner: str, ids: Sequence[int], *, unchecked: bool = False) -> None:
        """In-doubt rows the read API does not show, or (`unchecked`) could not check for
        too long: ready to send again, now."""
        counter = "in_doubt_resent_unchecked" if unchecked else "in_doubt_resent"
        self._release(owner, ids, READY, 0.0, counter=counter)

    def recheck_later(self, owner: str, ids: Sequence[int], not_before: float) -> None:
        """The read API could not answer: the rows stay in doubt (since when they were)."""
        self._release(owner, ids, IN_DOUBT, not_before)

    def replace(self, owner: str, row_id: int, span: Mapping[str, Any]) -> None:
        """Store a smaller version of a claimed span (after a 413)."""
        body = encode(span)
        with self._transaction() as db:
            old = db.execute(
                "SELECT stored FROM spans WHERE id = ? AND claimed_by = ?", (row_id, owner)
            ).fetchone()
            if old is None:
                return
            db.execute(
                "UPDATE spans SET body = ?, size = ?, stored = ?, compressed = 0 WHERE id = ?",
                (body, len(body), len(body), row_id),
            )
            _add(db, "bytes", len(body) - old[0])

    def flush(self) -> None:
        """Make every commit so far survive power loss: fsync the write-ahead log, which holds
        them all (SQLite replays it after a crash)."""
        try:
            wal = os.open(f"{self.path}-wal", os.O_RDONLY)
        except FileNotFoundError:
            return  # nothing written since the last checkpoint, which synced the database
        try:
            os.fsync(wal)
        finally:
            os.close(wal)

    # -- compressing what waits ----------------------------------------------------------------

    def compress_waiting(self, limit: int = COMPRESS_BATCH_ROWS) -> int:
        """Compress up to `limit` rows stored as JSON for `COMPRESS_AFTER_SECONDS` or more;
        returns how many."""
        cutoff = self._clock() - COMPRESS_AFTER_SECONDS
        db = self._connection()
        waiting = db.execute(
            "SELECT id, body FROM spans"
            " WHERE compressed = 0 AND created <= ? AND claimed_by IS NULL LIMIT ?",
            (cutoff, limit),
        ).fetchall()
        if not waiting:
            return 0
        # Compressed outside the write lock, so appends never wait on zlib.
        packed = [(row_id, len(body), zlib.compress(body, 1)) for row_id, body in waiting]
        with self._transaction() as db:
            saved = 0
            for row_id, size, body in packed:
                # Unless another process claimed, shrank or compressed the row meanwhile.
                changed = db.execute(
                    "UPDATE spans SET body = ?, stored = ?, compressed = 1 WHERE id = ?"
                    " AND compressed = 0 AND claimed_by IS NULL AND stored = ?",
                    (body, len(body), row_id, size),
                ).rowcount
                saved += (size - len(body)) * changed
            _add(db, "bytes", -saved)
        return len(packed)

    def forget_spooled(self) -> int:
        """Forget the ids of spans spooled more than `REMEMBER_SPOOLED_SECONDS` ago."""
        with self._transaction() as db:
            return db.execute(
                "DELETE FROM spooled WHERE at < ?", (self._clock() - REMEMBER_SPOOLED_SECONDS,)
            ).rowcount

    def _remove(
        self,
        owner: str,
        ids: Sequence[int],
        counters: tuple[str, ...],
        note: tuple[str, str],
    ) -> int:
        with self._transaction() as db:
            marks = ",".join("?" * len(ids))
            freed, count = db.execute(
                f"SELECT COALESCE(SUM(stored), 0), COUNT(*) FROM spans"
                f" WHERE claimed_by = ? AND id IN ({marks})",
                (owner, *ids),
            ).fetchone()
            db.execute(f"DELETE FROM spans WHERE claimed_by = ? AND id IN ({marks})", (owner, *ids))
            _add(db, "bytes", -freed)
            for counter in counters:
                _add(db, counter, count)
            if count:
                _note(db, *note, self._clock())
        return int(count)

    def _release(
        self,
        owner: str,
        ids: Sequence[int],
        state: str,
        not_before: float,
        *,
        counter: str = "",
        doubt_since: float | None = None,
    ) -> None:
        """Back to `state`, unclaimed; an in-doubt row keeps the time it first became so."""
        marks = ",".join("?" * len(ids))
        with self._transaction() as db:
            released = db.execute(
                f"UPDATE spans SET state = ?, not_before = ?,"
                f" doubt_since = CASE WHEN ? = '{IN_DOUBT}' THEN COALESCE(doubt_since, ?) END,"
                f" claimed_by = NULL, claimed_at = NULL, claim_expiry = NULL"
                f" WHERE claimed_by = ? AND id IN ({marks})",
                (state, not_before, state, doubt_since, owner, *ids),
            ).rowcount
            if counter:
                _add(db, counter, released)

    # -- health ------------------------------------------------------------------------------

    def count_failure(self, message: str) -> None:
        """One export attempt failed; remember why (never any span content)."""
        with self._transaction() as db:
            _add(db, "export_failures", 1)
            _note(db, "last_error", message, self._clock())

    def note_in_doubt_check(self, problem: str) -> None:
        """Why in-doubt spans cannot be checked now ("" once a check answered again)."""
        with self._transaction() as db:
            _note(db, "in_doubt_check", problem, self._clock())

    def count_dropped_events(self, count: int) -> None:
        """Events the proxy dropped before they reached the delivery process (its queue was
        full); they never became spans."""
        with self._transaction() as db:
            _add(db, "dropped_events", count)

    def health(self) -> dict[str, Any]:
        return read_health(self._connection(), self._clock())


def _counter(db: sqlite3.Connection, name: str) -> int:
    row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 0


def _set_counter(db: sqlite3.Connection, name: str, value: int) -> None:
    db.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def _add(db: sqlite3.Connection, name: str, amount: int) -> None:
    if amount:
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, amount),
        )


def _note(db: sqlite3.Connection, name: str, value: str, at: float) -> None:
    db.execute(
        "INSERT INTO notes (name, value, at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value, at = excluded.at",
        (name, value, at),
    )
