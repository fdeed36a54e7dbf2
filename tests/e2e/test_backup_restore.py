"""`backup` and `restore` on the real engine: known data in every store, a backup taken while
requests flow through the proxy, `down -v`, a restore, and the same data found again.

One stack of its own for the module (the round trip wipes its volumes). What each store runs
here: Debian's PostgreSQL for both databases, the ClickHouse stand-in (HTTP interface, data
in its volume), moto's S3 for MinIO, the real LiteLLM proxy with its SQLite ledger and spool.

Langfuse refuses every export (the stand-in's control API: 503) from before the backup until
it is written, so the traces of the requests made meanwhile are only in the proxy's spool
when it is copied; after the wipe and the restore they must reach the new Langfuse, each span
once. A short export backoff and in-doubt settle time (LLMOPS_EXPORT_MAX_BACKOFF_SECONDS,
LLMOPS_IN_DOUBT_SETTLE_SECONDS) keep the waits short.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
import pytest
import yaml

from llmops_kit import backlog, backup_archive, backup_stores, settings
from llmops_kit.backup import create_backup
from llmops_kit.errors import KitError
from llmops_kit.restore import restore_backup
from tests.e2e.stack import StackEnv, write_stack_env
from tests.e2e.testbed.image import HostPaths

UP_TIMEOUT_S = 240
TRACE_TIMEOUT_S = 90
PASSPHRASE = b"e2e backup passphrase, long enough"
ALICE = {"key": "sk-e2e-alice-" + "a" * 24, "user": "alice@example.com", "budget_usd": 50}
TRACES = [("t-1", "first"), ("t-2", "second"), ("t-3", "third")]
OBJECTS = {"events/project/trace-1.json": b'{"id": "trace-1"}', "media/x.png": bytes(range(256))}
OFFLINE_SESSIONS = [f"langfuse-down-{n}" for n in range(3)]


@dataclass
class Traffic:
    """Requests sent through the proxy while the backup runs."""

    statuses: list[int] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Backed:
    stack: StackEnv
    archive: Path
    traffic: Traffic
    keys_text: str
    env_text: str


@dataclass(frozen=True)
class Restored:
    stack: StackEnv
    ledger_before: Path


def _chat(stack: StackEnv, key: str, session: str) -> int:
    model = yaml.safe_load(stack.config_file.read_text())["model_list"][0]["model_name"]
    try:
        answer = httpx.post(
            f"{stack.proxy_url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            # The key names the trace's user; the session id tells the requests apart.
            json={
                "model": model,
                "messages": [{"role": "user", "content": "Hi."}],
                "litellm_session_id": session,
            },
            timeout=60,
        )
    except httpx.TransportError:
        return 0
    return answer.status_code


def _s3(stack: StackEnv):  # boto3's client type is generated at run time
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{stack.port('MINIO_S3_PORT')}",
        aws_access_key_id="minio",
        aws_secret_access_key=stack.settings["MINIO_ROOT_PASSWORD"],
        region_name="us-east-1",
    )


def _psql(stack: StackEnv, service: str, user: str, sql: str) -> str:
    return stack.project.exec(service, ["psql", "-At", "-U", user, "-d", user, "-c", sql]).strip()


def _clickhouse(stack: StackEnv, sql: str, scratch: Path) -> str:
    return backup_stores.clickhouse_query(stack.project, sql, scratch)


def _seed(stack: StackEnv, scratch: Path) -> None:
    """Known rows in both Postgres databases and ClickHouse, known objects in the bucket."""
    for service, user in (("postgres", "postgres"), ("litellm-postgres", "litellm")):
        _psql(stack, service, user, "CREATE TABLE kit_probe (v text)")
        _psql(
            stack, service, user, f"INSERT INTO kit_probe VALUES ('{service}-1'), ('{service}-2')"
        )
    _clickhouse(stack, "CREATE TABLE traces (id TEXT, name TEXT)", scratch)
    values = ", ".join(f"('{i}', '{n}')" for i, n in TRACES)
    _clickhouse(stack, f"INSERT INTO traces VALUES {values}", scratch)
    for key, body in OBJECTS.items():
        _s3(stack).put_object(Bucket="langfuse", Key=key, Body=body)


def _spans(stack: StackEnv) -> list[dict]:
    """Every span the Langfuse stand-in stored, duplicates included."""
    return httpx.get(f"{stack.web_url}/_fake/spans", timeout=10).json()


def _sessions(spans: list[dict]) -> set[str]:
    return {v for span in spans for v in span["attributes"].values() if isinstance(v, str)}


def _langfuse_refuses_exports(stack: StackEnv, refuse: bool) -> None:
    mode = {"mode": "error", "status": 503} if refuse else {"mode": "normal"}
    httpx.post(f"{stack.web_url}/_fake/mode", json=mode, timeout=10).raise_for_status()


def _wait_for_backlog(stack: StackEnv, done: Callable[[int], bool]) -> int:
    deadline = time.monotonic() + TRACE_TIMEOUT_S
    while True:
        spans = backlog.read(stack.project).spans
        if spans is not None and done(spans):
            return spans
        assert time.monotonic() < deadline, f"spool backlog stuck at {spans} spans"
        time.sleep(0.5)


def _spans_per_request(stack: StackEnv, session: str) -> int:
    """How many spans one request makes, counted on one delivered request."""
    _wait_for_backlog(stack, lambda spans: spans == 0)
    return sum(session in _sessions([span]) for span in _spans(stack))


def _spooled_span_ids(archive: Path, into: Path) -> list[str]:
    into.mkdir(mode=0o700)
    manifest = backup_archive.read(archive, into, PASSPHRASE)
    spools = [p for p in manifest.parts if p.name.startswith(backup_stores.SPOOL_PART_PREFIX)]
    assert spools, "the archive holds no spool"
    span_ids: list[str] = []
    for part in spools:
        with sqlite3.connect(into / "parts" / part.file) as db:
            span_ids += [row[0] for row in db.execute("SELECT span_id FROM spans")]
    return span_ids


def _ledger_spend(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT scope, period, micros FROM spend ORDER BY 1, 2").fetchall()


@pytest.fixture(scope="module")
def backed(testbed_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backed]:
    directory = tmp_path_factory.mktemp("backup-stack")
    stack = write_stack_env(directory, testbed_image, HostPaths.current())
    keys_file = directory / "keys" / "keys.yml"
    keys_file.parent.mkdir(mode=0o700)
    keys_file.write_text(yaml.safe_dump([ALICE]))
    keys_file.chmod(0o600)
    values = settings.read_env_file(stack.env_file)
    values["LLMOPS_KEYS_FILE"] = "keys/keys.yml"
    values["LLMOPS_EXPORT_MAX_BACKOFF_SECONDS"] = "2"
    values["LLMOPS_IN_DOUBT_SETTLE_SECONDS"] = "2"
    settings.write_env_file(stack.env_file, settings.render_env(values))
    try:
        stack.project.run(
            ["up", "--detach", "--wait", "--wait-timeout", str(UP_TIMEOUT_S)],
            timeout=UP_TIMEOUT_S + 60,
        )
        scratch = directory / "scratch"
        _seed(stack, scratch)
        assert _chat(stack, ALICE["key"], "backup-seed") == 200  # the ledger records spend
        per_request = _spans_per_request(stack, "backup-seed")
        assert per_request > 0

        _langfuse_refuses_exports(stack, True)
        for session in OFFLINE_SESSIONS:
            assert _chat(stack, ALICE["key"], session) == 200
        _wait_for_backlog(stack, lambda spans: spans >= per_request * len(OFFLINE_SESSIONS))

        traffic, done = Traffic(), threading.Event()

        def send() -> None:
            while not done.is_set():
                session = f"backup-flow-{len(traffic.sessions)}"
                traffic.sessions.append(session)
                traffic.statuses.append(_chat(stack, ALICE["key"], session))

        sender = threading.Thread(target=send)
        sender.start()
        try:
            archive = create_backup(
                stack.env_file, directory / "backups", passphrase=PASSPHRASE, keep=2
            )
        finally:
            done.set()
            sender.join()
            _langfuse_refuses_exports(stack, False)
        yield Backed(stack, archive, traffic, keys_file.read_text(), stack.env_file.read_text())
    finally:
        try:
            stack.project.down(volumes=True)
        except KitError as error:
            print(f"e2e teardown: `down -v` failed: {error}")


def test_requests_during_a_backup_all_succeed_and_every_trace_arrives(backed: Backed) -> None:
    traffic = backed.traffic
    assert traffic.statuses, "no request was sent while the backup ran"
    assert set(traffic.statuses) == {200}, traffic.statuses

    deadline, missing = time.monotonic() + TRACE_TIMEOUT_S, set(traffic.sessions)
    while missing and time.monotonic() < deadline:
        missing -= _sessions(_spans(backed.stack))
        time.sleep(1)
    assert not missing, f"{len(missing)} of {len(traffic.sessions)} traces never reached Langfuse"


def test_the_archive_is_private_and_lists_every_store(backed: Backed) -> None:
    assert backed.archive.stat().st_mode & 0o777 == 0o600
    assert backed.archive.parent.stat().st_mode & 0o777 == 0o700
    into = backed.archive.parent / "inspect"
    into.mkdir(mode=0o700)
    manifest = backup_archive.read(backed.archive, into, PASSPHRASE)
    names = {part.name for part in manifest.parts}
    assert names == {
        "langfuse-postgres",
        "litellm-postgres",
        "minio",
        "clickhouse",
        "ledger",
        # One spool per replica slot (callbacks/replica_spool.py): this stack runs one proxy.
        "spool:replica-0/spool.db",
        "env",
        "keys",
    }
    assert manifest.part("clickhouse").summary.startswith("traces 3")
    assert manifest.part("minio").summary == "2 objects"
    assert manifest.part("keys").summary == "1 developer keys"
    assert (
        manifest.images["postgres"]
        == backed.stack.project.config()["services"]["postgres"]["image"]
    )


@pytest.fixture(scope="module")
def restored(backed: Backed, tmp_path_factory: pytest.TempPathFactory) -> Restored:
    """The stack wiped (`down -v`, keys file deleted) and restored from the archive."""
    stack = backed.stack
    directory = tmp_path_factory.mktemp("restore")
    ledger_before = directory / "ledger-before.sqlite3"
    into = directory / "archive"
    into.mkdir(mode=0o700)
    backup_archive.read(backed.archive, into, PASSPHRASE)
    (into / "parts" / "ledger.sqlite3").rename(ledger_before)
    stack.project.down(volumes=True)
    (stack.env_file.parent / "keys" / "keys.yml").unlink()

    restore_backup(stack.env_file, backed.archive, passphrase=PASSPHRASE, timeout=UP_TIMEOUT_S)
    return Restored(stack, ledger_before)


def test_after_down_v_a_restore_brings_back_every_store(
    backed: Backed, restored: Restored, tmp_path: Path
) -> None:
    stack = restored.stack
    for service, user in (("postgres", "postgres"), ("litellm-postgres", "litellm")):
        rows = _psql(stack, service, user, "SELECT v FROM kit_probe ORDER BY v")
        assert rows.splitlines() == [f"{service}-1", f"{service}-2"]
    rows = _clickhouse(stack, "SELECT id, name FROM traces ORDER BY id", tmp_path / "scratch")
    assert [tuple(line.split("\t")) for line in rows.splitlines()] == TRACES
    for key, body in OBJECTS.items():
        assert _s3(stack).get_object(Bucket="langfuse", Key=key)["Body"].read() == body
    assert (stack.env_file.parent / "keys" / "keys.yml").read_text() == backed.keys_text
    assert stack.env_file.read_text() == backed.env_text
    ledger_after = tmp_path / "ledger-after.sqlite3"
    assert backup_stores.dump_sqlite(stack.project, backup_stores.LEDGER_FILE, ledger_after)
    assert _ledger_spend(ledger_after) == _ledger_spend(restored.ledger_before) != []
    assert _chat(stack, ALICE["key"], "after-restore") == 200


def test_traces_only_in_the_spool_at_backup_reach_langfuse_once_after_restore(
    backed: Backed, restored: Restored, tmp_path: Path
) -> None:
    spooled = _spooled_span_ids(backed.archive, tmp_path / "archive")
    assert len(spooled) >= len(OFFLINE_SESSIONS), "the archive's spool holds no waiting span"
    _wait_for_backlog(restored.stack, lambda spans: spans == 0)  # every span acknowledged
    spans = _spans(restored.stack)
    assert set(OFFLINE_SESSIONS) <= _sessions(spans)
    delivered = [span["spanId"].lower() for span in spans]
    assert {span_id: delivered.count(span_id.lower()) for span_id in spooled} == dict.fromkeys(
        spooled, 1
    )
