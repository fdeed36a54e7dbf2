"""Each store's dump and load, run with the tools its own image ships (through compose).

    Postgres (both)    pg_dump -Fc / pg_restore --clean, inside the running service
    ClickHouse         its data directory, copied with the service stopped (see below)
    MinIO              every object of the bucket, through the S3 API on the published port
    ledger, spool      SQLite's online backup API, inside the proxy container

ClickHouse's own BACKUP writes only to a disk or path its server configuration allows, and
the production image configures none; a copy of /var/lib/clickhouse taken while the server is
stopped is the consistent alternative its documentation names, needs nothing configured and
restores onto the same or a newer server. The server is down for the seconds the copy takes:
Langfuse's ingestion keeps events in MinIO and its queue meanwhile, and the proxy keeps
serving (its callback spools what Langfuse does not acknowledge).

Binary data never passes through Python strings: each dump streams into a file and each
load streams from one. Errors carry compose's stderr with every secret masked.
"""

from __future__ import annotations

import re
import subprocess
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from . import service_health
from .compose import PROXY_SERVICE, ComposeProject, fix_for
from .errors import ComposeError, KitError

CLICKHOUSE = "clickhouse"
CLICKHOUSE_DATA = "/var/lib/clickhouse"
# The tables whose rows `backup` and `restore` count (Langfuse's schema).
CLICKHOUSE_COUNTED = ("traces", "observations", "scores")
BUCKET = "langfuse"
MINIO_USER = "minio"
LEDGER_FILE = "/var/lib/llmops/ledger/ledger.sqlite3"
# The spool volume holds one spool per replica slot (callbacks/replica_spool.py), and
# `spool.db` itself when written before slots existed: each is its own part of the archive.
SPOOL_DIR = "/var/lib/llmops/spool"
SPOOL_PART_PREFIX = "spool:"
_SPOOL_FILE = re.compile(r"(replica-[0-9]{1,2}/)?spool\.db")
_LIST_SPOOLS = """
import glob, os, sys
root = sys.argv[1]
found = glob.glob(os.path.join(root, "replica-*", "spool.db"))
found += glob.glob(os.path.join(root, "spool.db"))
print("\\n".join(sorted(os.path.relpath(path, root) for path in found)))
"""
_ABSENT = 3  # exit status of the SQLite dump script when the database does not exist

# Run by the proxy image's python3: back up a live WAL database into a temporary file with
# the online backup API, then stream it. A plain copy could catch a half-written page.
_SQLITE_DUMP = """
import os, shutil, sqlite3, sys, tempfile
path = sys.argv[1]
if not os.path.exists(path):
    sys.exit(3)
source = sqlite3.connect(path, timeout=30)
with tempfile.TemporaryDirectory() as tmp:
    copy = sqlite3.connect(os.path.join(tmp, "copy"))
    source.backup(copy)
    copy.close()
    with open(os.path.join(tmp, "copy"), "rb") as handle:
        shutil.copyfileobj(handle, sys.stdout.buffer)
"""
# Replace a database (the proxy is stopped): the old WAL and shared-memory files would be
# replayed over the restored pages, so they go first.
_SQLITE_LOAD = """
import os, shutil, sys
path = sys.argv[1]
os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
for stale in (path + "-wal", path + "-shm", path + "-journal"):
    if os.path.exists(stale):
        os.remove(stale)
with open(path + ".restoring", "wb") as handle:
    os.fchmod(handle.fileno(), 0o600)
    shutil.copyfileobj(sys.stdin.buffer, handle)
os.replace(path + ".restoring", path)
"""


@dataclass(frozen=True)
class Postgres:
    """One of the stack's Postgres services and the role and database the kit created."""

    service: str
    user: str
    database: str
    password_variable: str


POSTGRES = {
    "langfuse-postgres": Postgres("postgres", "postgres", "postgres", "POSTGRES_PASSWORD"),
    "litellm-postgres": Postgres(
        "litellm-postgres", "litellm", "litellm", "LITELLM_POSTGRES_PASSWORD"
    ),
}


def _compose(
    project: ComposeProject, args: Sequence[str], *, stdout: Path | None, stdin: Path | None
) -> subprocess.CompletedProcess[bytes]:
    argv = project.command(args)
    with (
        stdout.open("wb") if stdout else open("/dev/null", "wb") as out,
        stdin.open("rb") if stdin else open("/dev/null", "rb") as source,
    ):
        try:
            return subprocess.run(
                argv,
                stdin=source,
                stdout=out,
                stderr=subprocess.PIPE,
                env=project.environment(),
                check=False,
            )
        except FileNotFoundError:
            raise KitError(f"`{project.docker}` was not found", fix="Install Docker.") from None


def _checked(
    project: ComposeProject,
    args: Sequence[str],
    *,
    stdout: Path | None = None,
    stdin: Path | None = None,
    allowed: Sequence[int] = (),
) -> int:
    done = _compose(project, args, stdout=stdout, stdin=stdin)
    if done.returncode != 0 and done.returncode not in allowed:
        stderr = done.stderr.decode(errors="replace")
        raise ComposeError(
            [project.redact(arg) for arg in project.command(args)],
            done.returncode,
            project.redact(stderr),
            fix=fix_for(stderr),
        )
    return done.returncode


def _one_off(service: str, program: str, *args: str, user: str | None = None) -> list[str]:
    """`docker compose run` of `program` in a throwaway container of `service`'s image and
    volumes, without its dependencies: for a store whose server is stopped."""
    as_user = ["--user", user] if user else []
    return ["run", "--rm", "--no-deps", "-T", *as_user, "--entrypoint", program, service, *args]


def _text(project: ComposeProject, args: Sequence[str], scratch: Path) -> str:
    _checked(project, args, stdout=scratch)
    try:
        return scratch.read_text(errors="replace").strip()
    finally:
        scratch.unlink(missing_ok=True)


# -- Postgres


def dump_postgres(project: ComposeProject, db: Postgres, out: Path) -> str:
    """pg_dump's custom format (compressed; pg_restore picks what to load); returns a summary."""
    tables = _text(
        project,
        [
            "exec",
            "-T",
            db.service,
            "psql",
            "-At",
            "-U",
            db.user,
            "-d",
            db.database,
            "-c",
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
        ],
        out.with_suffix(".count"),
    )
    _checked(
        project,
        ["exec", "-T", db.service, "pg_dump", "-Fc", "-U", db.user, db.database],
        stdout=out,
    )
    return f"{tables} tables"


def restore_postgres(project: ComposeProject, db: Postgres, dump: Path) -> None:
    """Load a dump over whatever the database holds, in one transaction; then give the role
    the password .env now names (a dump carries no role passwords)."""
    _checked(
        project,
        [
            "exec",
            "-T",
            db.service,
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "-U",
            db.user,
            "-d",
            db.database,
        ],
        stdin=dump,
    )
    password = project.settings[db.password_variable].replace("'", "''")
    statement = dump.with_suffix(".sql")
    statement.write_text(f"ALTER ROLE \"{db.user}\" PASSWORD '{password}';\n")
    statement.chmod(0o600)
    try:
        _checked(
            project,
            [
                "exec",
                "-T",
                db.service,
                "psql",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-U",
                db.user,
                "-d",
                db.database,
            ],
            stdin=statement,
        )
    finally:
        statement.unlink(missing_ok=True)


# -- ClickHouse


def clickhouse_query(project: ComposeProject, sql: str, scratch: Path) -> str:
    """Run SQL through ClickHouse's HTTP interface inside its container: the credentials
    come from the container's own environment, never from this process's argv."""
    script = (
        'wget -qO- --header "X-ClickHouse-User: $CLICKHOUSE_USER" '
        '--header "X-ClickHouse-Key: $CLICKHOUSE_PASSWORD" --post-data "$1" '
        "http://127.0.0.1:8123/"
    )
    return _text(project, ["exec", "-T", CLICKHOUSE, "sh", "-c", script, "sh", sql], scratch)


def clickhouse_counts(project: ComposeProject, scratch: Path) -> str:
    """Rows of Langfuse's main tables, e.g. "traces 12, observations 40"; a table that is not
    there is left out."""
    counts = []
    for table in CLICKHOUSE_COUNTED:
        query = f"SELECT count(*) FROM {table}"
        try:
            counts.append(f"{table} {int(clickhouse_query(project, query, scratch))}")
        except (KitError, ValueError):
            continue
    return ", ".join(counts) or "no Langfuse tables yet"


def dump_clickhouse(project: ComposeProject, out: Path, *, timeout: float) -> str:
    """Copy the data directory with the server stopped; always start the same container
    again (`restart`, not `up`: during an `upgrade` the compose files already pin the new
    image, and `up` would recreate ClickHouse on it before the backup is even written)."""
    summary = clickhouse_counts(project, out.with_suffix(".count"))
    project.stop([CLICKHOUSE])
    try:
        _checked(
            project,
            _one_off(CLICKHOUSE, "tar", "--numeric-owner", "-C", CLICKHOUSE_DATA, "-cf", "-", "."),
            stdout=out,
        )
    finally:
        project.restart([CLICKHOUSE])
        service_health.wait_healthy(project, [CLICKHOUSE], timeout=timeout)
    return summary


def restore_clickhouse(project: ComposeProject, data: Path) -> None:
    """Replace the data directory (the server is stopped), owners kept by number."""
    script = (
        f"find {CLICKHOUSE_DATA} -mindepth 1 -delete && "
        f"tar --numeric-owner -C {CLICKHOUSE_DATA} -xpf -"
    )
    _checked(
        project,
        _one_off(CLICKHOUSE, "sh", "-c", script, user="0:0"),
        stdin=data,
    )


# -- MinIO


def _s3(project: ComposeProject):
    settings = project.settings
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{settings['MINIO_S3_PORT']}",
        aws_access_key_id=MINIO_USER,
        aws_secret_access_key=settings["MINIO_ROOT_PASSWORD"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5}),
    )


def _s3_error(error: Exception) -> KitError:
    return KitError(
        f"MinIO's S3 API on 127.0.0.1 refused the bucket {BUCKET}: {error}",
        fix="Check that minio is healthy (`python manage_langfuse.py status`) and that "
        "MINIO_S3_PORT and MINIO_ROOT_PASSWORD in .env are the stack's.",
    )


def _keys(client) -> list[str]:
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys += [item["Key"] for item in page.get("Contents", ())]
    return keys


def dump_bucket(project: ComposeProject, out: Path) -> str:
    """Every object (events and media) into a tar, one member per key."""
    try:
        client = _s3(project)
        keys = _keys(client)
        with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
            for key in keys:
                body = client.get_object(Bucket=BUCKET, Key=key)
                info = tarfile.TarInfo(key)
                info.size = int(body["ContentLength"])
                tar.addfile(info, body["Body"])
    except (BotoCoreError, ClientError) as error:
        raise _s3_error(error) from None
    return f"{len(keys)} objects"


def restore_bucket(project: ComposeProject, data: Path) -> int:
    """Make the bucket hold exactly the archived objects; returns how many."""
    try:
        client = _s3(project)
        with tarfile.open(data, "r:") as tar:
            members = [member for member in tar if member.isfile()]
            wanted = {member.name for member in members}
            for stale in sorted(set(_keys(client)) - wanted):
                client.delete_object(Bucket=BUCKET, Key=stale)
            for member in members:
                body = tar.extractfile(member)
                assert body is not None  # a regular file always has content
                client.put_object(Bucket=BUCKET, Key=member.name, Body=body.read())
    except (BotoCoreError, ClientError) as error:
        raise _s3_error(error) from None
    return len(members)


# -- the proxy's SQLite files


def dump_sqlite(project: ComposeProject, path: str, out: Path) -> bool:
    """The database at `path` in the proxy's volumes through the online backup API; False when
    it does not exist."""
    code = _checked(
        project,
        ["exec", "-T", PROXY_SERVICE, "python3", "-c", _SQLITE_DUMP, path],
        stdout=out,
        allowed=(_ABSENT,),
    )
    return code == 0


def spool_files(project: ComposeProject, scratch: Path) -> list[str]:
    """Each spool in the spool volume, relative to it (`replica-0/spool.db`, ...)."""
    listed = _text(
        project, ["exec", "-T", PROXY_SERVICE, "python3", "-c", _LIST_SPOOLS, SPOOL_DIR], scratch
    )
    return [name for name in listed.splitlines() if _SPOOL_FILE.fullmatch(name)]


def spool_path(relative: str) -> str:
    """Where a spool part goes back; an archive naming any other place is refused."""
    if not _SPOOL_FILE.fullmatch(relative):
        raise KitError(
            f"the archive names a spool outside the spool volume: {relative!r}",
            fix="Restore an archive written by `backup`.",
        )
    return f"{SPOOL_DIR}/{relative}"


def restore_sqlite(project: ComposeProject, path: str, data: Path) -> None:
    """Put the database in the proxy's volume (the proxy is stopped)."""
    _checked(
        project,
        _one_off(PROXY_SERVICE, "python3", "-c", _SQLITE_LOAD, path),
        stdin=data,
    )
