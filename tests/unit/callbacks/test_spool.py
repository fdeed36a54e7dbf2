"""The SQLite spool: durable until acknowledged, claimed by one process at a time, capped."""

from __future__ import annotations

import multiprocessing
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from callbacks import mapping
from callbacks.otlp import attribute_map
from callbacks.spool import (
    COMPRESS_AFTER_SECONDS,
    IN_DOUBT,
    READY,
    REMEMBER_SPOOLED_SECONDS,
    Spool,
    owner_id,
)

from .doubles import ids, span_row


def claim(spool: Spool, owner: str, state: str = READY, lease: float = 60.0):
    return spool.claim(owner, state=state, lease=lease, max_bytes=10**7, max_spans=100)


def test_appended_spans_survive_a_restart(make_spool) -> None:
    make_spool().append([span_row(1), span_row(2)])
    reopened = make_spool()
    assert ids(claim(reopened, "after-restart")) == [f"{1:016x}", f"{2:016x}"]


def test_acknowledged_spans_leave_and_are_counted_delivered(spool) -> None:
    spool.append([span_row(1), span_row(2)])
    claimed = claim(spool, "me")
    spool.acknowledge("me", [r.id for r in claimed])
    health = spool.health()
    assert (health["backlog_spans"], health["delivered"]) == (0, 2)
    assert claim(spool, "me") == []


def test_a_claimed_span_is_not_given_to_another_spool_user(make_spool) -> None:
    first, second = make_spool(), make_spool()
    first.append([span_row(1)])
    assert len(claim(first, "worker-a")) == 1
    assert claim(second, "worker-b") == []


def test_two_processes_never_claim_the_same_span(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    Spool(directory, max_bytes=10**9, shrink=mapping.without_bodies, settle_seconds=60).append(
        [span_row(n) for n in range(400)]
    )
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_claim_all_in_small_batches, args=(directory, start, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    claimed = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    assert sorted(claimed[0] + claimed[1]) == list(range(1, 401))
    assert claimed[0] and claimed[1]


def _claim_all_in_small_batches(directory: Path, start, results) -> None:
    spool = Spool(directory, max_bytes=10**9, shrink=mapping.without_bodies, settle_seconds=60)
    owner, got = owner_id(), []
    start.wait()
    while batch := spool.claim(owner, state=READY, lease=60, max_bytes=10**7, max_spans=3):
        got += [r.id for r in batch]
        time.sleep(0.005)  # "sending": the other process claims meanwhile
    results.put(got)


def test_a_claim_past_its_lease_turns_in_doubt(spool, clock) -> None:
    spool.append([span_row(1)])
    claim(spool, "slow-worker", lease=30)
    clock.advance(31)
    assert claim(spool, "other") == []
    assert spool.health()["in_doubt_spans"] == 1


def test_in_doubt_spans_wait_for_the_settle_delay_after_sending(make_spool, clock) -> None:
    spool = make_spool(settle_seconds=60)
    spool.append([span_row(1)])
    claimed = claim(spool, "me")
    spool.mark_in_doubt("me", [r.id for r in claimed], sent_at=clock.now)
    clock.advance(59)
    assert claim(spool, "me", state=IN_DOUBT) == []
    clock.advance(2)
    assert len(claim(spool, "me", state=IN_DOUBT)) == 1


def test_a_claim_held_by_a_dead_process_turns_in_doubt_without_waiting(spool) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_owner = f"{socket.gethostname()}:{dead.stdout.strip()}:0000"
    spool.append([span_row(1)])
    claim(spool, dead_owner, lease=3600)
    claim(spool, "survivor")
    assert spool.health()["in_doubt_spans"] == 1


def test_a_claim_held_by_a_live_process_is_respected(spool) -> None:
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        spool.append([span_row(1)])
        claim(spool, f"{socket.gethostname()}:{alive.pid}:0000", lease=3600)
        assert claim(spool, "other") == []
        assert spool.health()["in_doubt_spans"] == 0
    finally:
        alive.kill()
        alive.wait()


def test_a_claim_left_by_an_earlier_process_with_our_pid_turns_in_doubt(spool) -> None:
    """A restarted container reuses its hostname and its pids."""
    host_and_pid = f"{socket.gethostname()}:{os.getpid()}"
    spool.append([span_row(1)])
    claim(spool, f"{host_and_pid}:before-restart", lease=3600)
    claim(spool, f"{host_and_pid}:after-restart")
    assert spool.health()["in_doubt_spans"] == 1


def test_a_span_retried_later_is_not_due_before_its_time(spool, clock) -> None:
    spool.append([span_row(1)])
    spool.retry_later("me", [r.id for r in claim(spool, "me")], not_before=clock.now + 10)
    assert claim(spool, "me") == []
    clock.advance(10)
    assert len(claim(spool, "me")) == 1


def filled(make_spool, headroom: int) -> Spool:
    """A spool holding one large span, capped `headroom` bytes above what it holds."""
    make_spool().append([span_row(1, os.urandom(2000).hex())])
    used = make_spool().health()["backlog_bytes"]
    return make_spool(max_bytes=used + headroom)


def test_a_full_spool_keeps_new_spans_without_their_bodies(make_spool) -> None:
    spool = filled(make_spool, headroom=400)
    result = spool.append([span_row(2, os.urandom(2000).hex())])
    assert (result.stored, result.without_bodies) == (1, 1)
    second = claim(spool, "me")[1]
    assert attribute_map(second.span)["langfuse.observation.input"] == (mapping.SPOOL_FULL_MARKER)
    assert spool.health()["dropped_bodies"] == 1


def test_a_spool_full_even_without_bodies_drops_and_counts(make_spool) -> None:
    spool = filled(make_spool, headroom=10)
    result = spool.append([span_row(2, "small")])
    assert (result.stored, result.dropped) == (0, 1)
    assert spool.health()["dropped_spans"] == 1
    assert spool.health()["backlog_spans"] == 1


def test_delivered_spans_free_their_room_for_new_ones(make_spool) -> None:
    spool = filled(make_spool, headroom=400)
    spool.acknowledge("me", [r.id for r in claim(spool, "me")])
    assert spool.append([span_row(2, os.urandom(2000).hex())]).without_bodies == 0


def test_health_reports_backlog_age_and_last_error(spool, clock) -> None:
    spool.append([span_row(1), span_row(2)])
    clock.advance(42)
    spool.count_failure("HTTP 503 from Langfuse")
    health = spool.health()
    assert health["backlog_spans"] == 2
    assert health["oldest_age_seconds"] == 42
    assert health["export_failures"] == 1
    assert health["last_error"] == "HTTP 503 from Langfuse"
    assert health["backlog_bytes"] > 0


def _code_like(kb: int) -> str:
    """Text that compresses as source code does (a few times), not as random bytes."""
    return ("def handler(request):\n    return respond(request.body)\n" * (kb * 20))[: kb * 1024]


def test_a_span_that_waits_is_compressed_and_reads_back_the_same(spool, clock) -> None:
    row = span_row(1, _code_like(50))
    spool.append([row])
    stored_as_json = spool.health()["backlog_bytes"]
    clock.advance(COMPRESS_AFTER_SECONDS)
    assert spool.compress_waiting() == 1
    assert spool.health()["backlog_bytes"] < stored_as_json / 4
    assert claim(spool, "me")[0].span == row.span


def test_a_fresh_span_is_left_as_json_for_prompt_delivery(spool, clock) -> None:
    spool.append([span_row(1, _code_like(50))])
    clock.advance(COMPRESS_AFTER_SECONDS / 2)
    assert spool.compress_waiting() == 0


def test_a_claimed_span_is_not_compressed_under_its_sender(spool, clock) -> None:
    spool.append([span_row(1, _code_like(50))])
    claimed = claim(spool, "me")
    clock.advance(COMPRESS_AFTER_SECONDS)
    spool.compress_waiting()
    spool.retry_later("me", [claimed[0].id], 0.0)
    assert spool.health()["backlog_bytes"] > 50 * 1024


def test_compressing_frees_room_under_the_cap(make_spool, clock) -> None:
    spool = make_spool(max_bytes=80 * 1024)
    spool.append([span_row(1, _code_like(50))])
    assert spool.append([span_row(2, _code_like(50))]).without_bodies == 1
    clock.advance(COMPRESS_AFTER_SECONDS)
    spool.compress_waiting()
    assert spool.append([span_row(3, _code_like(50))]).without_bodies == 0


def _wal_frames(directory: Path) -> int:
    """Frames in the write-ahead log not yet copied into the database."""
    with sqlite3.connect(directory / "spool.db") as db:
        return db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def test_the_proxys_appends_leave_checkpoints_to_the_delivery_process(make_spool) -> None:
    """SQLite checkpoints every 1000 pages by default; the proxy's side never does."""
    proxy_side = make_spool(deferred_sync=True)
    for n in range(60):
        proxy_side.append([span_row(n, os.urandom(40_000).hex())])
    assert _wal_frames(proxy_side.path.parent) > 1500


def test_flush_syncs_the_write_ahead_log_holding_the_proxys_appends(
    make_spool, monkeypatch
) -> None:
    proxy_side = make_spool(deferred_sync=True)
    synced: list[str] = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")))
    proxy_side.append([span_row(1)])
    proxy_side.flush()
    assert synced == [f"{proxy_side.path}-wal"]


def _modes(directory: Path) -> dict[str, int]:
    return {entry.name: entry.stat().st_mode & 0o777 for entry in [directory, *directory.iterdir()]}


def test_the_spool_is_private_to_the_proxys_user_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask: 0755 directories, 0644 files
    try:
        spool = Spool(tmp_path / "spool", max_bytes=10**9, shrink=dict, settle_seconds=60)
        spool.append([span_row(1)])
    finally:
        os.umask(previous)

    modes = _modes(tmp_path / "spool")
    assert {"spool", "spool.db", "spool.db-wal", "spool.db-shm"} <= modes.keys()
    assert modes == {name: 0o700 if name == "spool" else 0o600 for name in modes}


def test_a_spool_left_readable_by_an_earlier_version_is_tightened_when_opened(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "spool"
    first = Spool(directory, max_bytes=10**9, shrink=dict, settle_seconds=60)
    first.append([span_row(1)])
    os.chmod(directory, 0o755)
    for entry in directory.iterdir():
        os.chmod(entry, 0o644)

    Spool(directory, max_bytes=10**9, shrink=dict, settle_seconds=60)

    modes = _modes(directory)
    assert modes == {name: 0o700 if name == "spool" else 0o600 for name in modes}


def test_a_span_spooled_again_is_skipped_and_counted_even_after_delivery(spool) -> None:
    """An event recorded twice (a frame resent to a restarted delivery process) spools its
    spans once, though the first copy may have left the spool already."""
    spool.append([span_row(1)])
    spool.acknowledge("me", [row.id for row in claim(spool, "me")])
    result = spool.append([span_row(1), span_row(2)])
    assert (result.stored, result.repeated) == (1, 1)
    assert [row.span_id for row in claim(spool, "me")] == [span_row(2).span_id]
    assert spool.health()["repeated_spans"] == 1


def test_span_ids_are_forgotten_after_an_hour(spool, clock) -> None:
    spool.append([span_row(1)])
    clock.advance(REMEMBER_SPOOLED_SECONDS + 1)
    assert spool.forget_spooled() == 1
    assert spool.append([span_row(1)]).stored == 1


def _count_in_another_process(directory: Path) -> int:
    """Spans another process (`status`, a second delivery process) sees; it opens the spool
    read-write and closes it, which checkpoints and deletes the write-ahead log when it
    believes itself the last user."""
    script = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1])\n"
        "print(db.execute('SELECT COUNT(*) FROM spans').fetchone()[0])\n"
        "db.close()\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", script, str(directory / "spool.db")],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(found.stdout)


def test_a_spool_opened_twice_in_one_process_stays_shared_with_other_processes(
    make_spool,
) -> None:
    """The delivery process opens the spool twice (to record, to deliver). Opening it again
    once lost the first connection's lock: another process closing its connection deleted
    the write-ahead log in use, and spans spooled afterwards were never seen outside."""
    delivering = make_spool()
    recording = make_spool(deferred_sync=True)
    recording.append([span_row(1)])
    assert _count_in_another_process(delivering.path.parent) == 1

    recording.append([span_row(2)])
    assert _count_in_another_process(delivering.path.parent) == 2
    assert (delivering.path.parent / "spool.db-wal").exists()
