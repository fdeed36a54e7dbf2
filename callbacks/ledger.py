"""The spend ledger: what each key and team spent this period, what is reserved, and the
requests and tokens of the current minute. Shared by every proxy worker process (SQLite, WAL)
or by every proxy (Redis, ledger_redis.py); nothing is held only in memory.

Money is integer micro-dollars. Admission is one transaction that checks every scope of the
request (its key, its team) and, only if all pass, records a hold (the reservation) on each and
counts the request; settlement is one transaction that replaces the hold by the real cost. A
hold that is never settled (a crashed worker) lapses, so it cannot lock a budget for good;
until then it counts as spent, which is the fail-closed side.

Periods and minutes follow the wall clock (they are calendar periods), but lapses do not: a
wall clock stepped forward would otherwise drop the holds of requests still running (and the
overshoot bound with them), one stepped back would keep ended requests' holds too long. A hold
lapses on the monotonic clock of the boot that placed it (`boot_id`, read by every process
of the host alike); only a hold placed on another boot or host falls back to its wall-clock
`lapse_at`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

T = TypeVar("T")
LEDGER_FILE = "ledger.sqlite3"
BUSY_TIMEOUT_S = 5.0
BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


class LedgerUnavailable(Exception):
    """The ledger cannot be reached or written; the message says why, without secrets."""


@dataclass(frozen=True)
class Scope:
    """One thing a request counts against: a key or a team, in the period it is admitted in."""

    name: str
    period: str
    budget: int | None = None
    rpm: int | None = None
    tpm: int | None = None


@dataclass(frozen=True)
class Refusal:
    """Why admission failed: the scope, the kind of limit, and the figures behind it."""

    scope: Scope
    kind: str  # "budget", "rpm" or "tpm"
    used: int  # micro-dollars spent + held, requests or tokens this minute


@dataclass(frozen=True)
class Usage:
    """A scope's figures for `keys list`, `status` and `doctor`."""

    spent: int
    held: int
    requests: int
    tokens: int


class Ledger(Protocol):
    def admit(
        self, scopes: Sequence[Scope], hold_id: str, micros: int, now: float, lapse_at: float
    ) -> Refusal | None: ...

    def settle(
        self, scopes: Sequence[Scope], hold_id: str, micros: int, tokens: int, now: float
    ) -> None: ...

    def lapse(self, scopes: Sequence[Scope], hold_id: str, now: float, lapse_at: float) -> None: ...

    def usage(self, scope: Scope, now: float) -> Usage: ...


def minute_of(now: float) -> int:
    return int(now // 60)


def boot_id() -> str:
    """This boot of the host, within which monotonic readings of all its processes compare.
    Without /proc (not Linux), a token of this process: others then use the wall clock."""
    try:
        return BOOT_ID_FILE.read_text(encoding="ascii").strip() or uuid.uuid4().hex
    except OSError:
        return uuid.uuid4().hex


@dataclass(frozen=True)
class LapseClock:
    """What a hold's lapse is measured on: this boot's monotonic clock (see the module)."""

    boot: str
    monotonic: Callable[[], float]

    @classmethod
    def of_host(cls) -> LapseClock:
        return cls(boot_id(), time.monotonic)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS spend (
    scope TEXT NOT NULL, period TEXT NOT NULL, micros INTEGER NOT NULL,
    PRIMARY KEY (scope, period));
CREATE TABLE IF NOT EXISTS holds (
    id TEXT NOT NULL, scope TEXT NOT NULL, period TEXT NOT NULL, micros INTEGER NOT NULL,
    lapse_at REAL NOT NULL, PRIMARY KEY (id, scope));
CREATE INDEX IF NOT EXISTS holds_by_scope ON holds (scope, period, lapse_at);
CREATE TABLE IF NOT EXISTS minutes (
    scope TEXT NOT NULL, minute INTEGER NOT NULL, requests INTEGER NOT NULL,
    tokens INTEGER NOT NULL, PRIMARY KEY (scope, minute));
"""
# Added when lapses moved to the monotonic clock; a ledger from before gets them on opening
# (its holds keep an empty boot, so they lapse by the wall clock).
_HOLD_COLUMNS = {"boot": "TEXT NOT NULL DEFAULT ''", "lapse_mono": "REAL NOT NULL DEFAULT 0"}
# Whether a hold still counts: see the module docstring.
_LIVE = "(CASE WHEN boot = :boot THEN lapse_mono > :mono ELSE lapse_at > :now END)"


class SqliteLedger:
    """The ledger of one host: a WAL database in the kit's data directory, mode 0600."""

    def __init__(self, directory: Path, clock: LapseClock | None = None) -> None:
        self.path = directory / LEDGER_FILE
        self._clock = clock or LapseClock.of_host()
        self._lock = threading.Lock()
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.path.touch(mode=0o600, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._transaction(_create)
        except (OSError, sqlite3.Error) as error:
            raise LedgerUnavailable(f"the ledger {self.path} cannot be opened: {error}") from None

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in one immediate (write-locking) transaction; LedgerUnavailable on failure."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(self._db)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
                return result
            except sqlite3.Error as error:
                raise LedgerUnavailable(f"the ledger {self.path} failed: {error}") from None

    def _at(self, now: float, mono: float) -> dict[str, object]:
        """The clocks a query compares lapses with: named parameters of _LIVE."""
        return {"now": now, "mono": mono, "boot": self._clock.boot}

    def admit(
        self, scopes: Sequence[Scope], hold_id: str, micros: int, now: float, lapse_at: float
    ) -> Refusal | None:
        minute = minute_of(now)
        mono = self._clock.monotonic()
        at, lapse_mono = self._at(now, mono), mono + (lapse_at - now)

        def work(db: sqlite3.Connection) -> Refusal | None:
            for scope in scopes:
                refusal = _check(db, scope, minute, at)
                if refusal is not None:
                    return refusal
            for scope in scopes:
                if scope.budget is not None:
                    db.execute(
                        "INSERT OR REPLACE INTO holds VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            hold_id,
                            scope.name,
                            scope.period,
                            micros,
                            lapse_at,
                            at["boot"],
                            lapse_mono,
                        ),
                    )
                if scope.rpm is not None or scope.tpm is not None:
                    db.execute(
                        "INSERT INTO minutes VALUES (?, ?, 1, 0) ON CONFLICT (scope, minute) "
                        "DO UPDATE SET requests = requests + 1",
                        (scope.name, minute),
                    )
            return None

        return self._transaction(work)

    def settle(
        self, scopes: Sequence[Scope], hold_id: str, micros: int, tokens: int, now: float
    ) -> None:
        minute = minute_of(now)
        at = self._at(now, self._clock.monotonic())

        def work(db: sqlite3.Connection) -> None:
            for scope in scopes:
                db.execute("DELETE FROM holds WHERE id = ? AND scope = ?", (hold_id, scope.name))
                if scope.budget is not None and micros:
                    db.execute(
                        "INSERT INTO spend VALUES (?, ?, ?) ON CONFLICT (scope, period) "
                        "DO UPDATE SET micros = micros + excluded.micros",
                        (scope.name, scope.period, micros),
                    )
                if scope.tpm is not None and tokens:
                    db.execute(
                        "INSERT INTO minutes VALUES (?, ?, 0, ?) ON CONFLICT (scope, minute) "
                        "DO UPDATE SET tokens = tokens + excluded.tokens",
                        (scope.name, minute, tokens),
                    )
            db.execute(f"DELETE FROM holds WHERE NOT {_LIVE}", at)
            db.execute("DELETE FROM minutes WHERE minute < ?", (minute - 1,))

        self._transaction(work)

    def lapse(self, scopes: Sequence[Scope], hold_id: str, now: float, lapse_at: float) -> None:
        """The hold lapses at `lapse_at` (or earlier if it was to), counted on this boot."""
        mono = self._clock.monotonic()
        at = self._at(now, mono) | {
            "id": hold_id,
            "lapse_at": lapse_at,
            "lapse_mono": mono + (lapse_at - now),
        }

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE holds SET lapse_at = MIN(lapse_at, :lapse_at), lapse_mono = CASE "
                "WHEN boot = :boot THEN MIN(lapse_mono, :lapse_mono) ELSE :lapse_mono END, "
                "boot = :boot WHERE id = :id",
                at,
            )

        self._transaction(work)

    def usage(self, scope: Scope, now: float) -> Usage:
        at = self._at(now, self._clock.monotonic())

        def work(db: sqlite3.Connection) -> Usage:
            spent, held = _budget_used(db, scope, at)
            row = db.execute(
                "SELECT requests, tokens FROM minutes WHERE scope = ? AND minute = ?",
                (scope.name, minute_of(now)),
            ).fetchone()
            return Usage(spent, held, *(row or (0, 0)))

        return self._transaction(work)


def _create(db: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    columns = {row[1] for row in db.execute("PRAGMA table_info(holds)")}
    for name, kind in _HOLD_COLUMNS.items():
        if name not in columns:
            db.execute(f"ALTER TABLE holds ADD COLUMN {name} {kind}")


def _budget_used(db: sqlite3.Connection, scope: Scope, at: dict[str, object]) -> tuple[int, int]:
    spent = db.execute(
        "SELECT micros FROM spend WHERE scope = ? AND period = ?", (scope.name, scope.period)
    ).fetchone()
    held = db.execute(
        f"SELECT COALESCE(SUM(micros), 0) FROM holds WHERE scope = :scope AND period = :period "
        f"AND {_LIVE}",
        at | {"scope": scope.name, "period": scope.period},
    ).fetchone()
    return (spent[0] if spent else 0), held[0]


def _check(
    db: sqlite3.Connection, scope: Scope, minute: int, at: dict[str, object]
) -> Refusal | None:
    if scope.rpm is not None or scope.tpm is not None:
        row = db.execute(
            "SELECT requests, tokens FROM minutes WHERE scope = ? AND minute = ?",
            (scope.name, minute),
        ).fetchone()
        requests, tokens = row or (0, 0)
        if scope.rpm is not None and requests >= scope.rpm:
            return Refusal(scope, "rpm", requests)
        if scope.tpm is not None and tokens >= scope.tpm:
            return Refusal(scope, "tpm", tokens)
    if scope.budget is not None:
        spent, held = _budget_used(db, scope, at)
        if spent + held >= scope.budget:
            return Refusal(scope, "budget", spent + held)
    return None
