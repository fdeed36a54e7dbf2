"""`backup`: one archive of everything needed to rebuild the stack, while the proxy serves.

    path = create_backup(env_file)         # backups/llmops-backup-<project>-<UTC>.tar
    path = create_backup(env_file, out_dir, passphrase=b"...", keep=7)

Parts: both Postgres databases, ClickHouse's data, the MinIO bucket, the proxy's ledger and
undelivered spool, `.env` and the keys file (backup_stores says how each is taken). The
manifest records the kit's version, the images the stack runs and each part's size and
SHA-256. The archive holds every secret of the stack: mode 0600 in a 0700 folder, and
sealed with a passphrase when one is given. `upgrade` calls create_backup before it changes
anything, when the compose files already pin the new images: the manifest therefore records
the images the containers run (the data's versions), and a backup never recreates a service.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from . import (
    __version__,
    backlog,
    backup_archive,
    backup_stores,
    console,
    developer_keys,
    replicas,
    settings,
)
from .backup_archive import Manifest, Part
from .compose import PROXY_SERVICE, ComposeProject, ContainerState
from .errors import KitError

ARCHIVE_PREFIX = "llmops-backup-"
DEFAULT_DIR_NAME = "backups"
NEEDED_SERVICES = ("postgres", "litellm-postgres", "clickhouse", "minio", PROXY_SERVICE)
Progress = Callable[[str], None]


def archive_name(project: str, when: dt.datetime, *, sealed: bool) -> str:
    return f"{ARCHIVE_PREFIX}{project}-{when:%Y%m%dT%H%M%SZ}.tar{'.enc' if sealed else ''}"


def archives_of(out_dir: Path, project: str) -> list[Path]:
    """This project's archives in `out_dir`, oldest first (the name holds the UTC time)."""
    pattern = f"{ARCHIVE_PREFIX}{project}-*.tar*"
    found = [p for p in out_dir.glob(pattern) if p.name.endswith((".tar", ".tar.enc"))]
    return sorted(found, key=lambda p: p.name)


def _check_keep(keep: int) -> None:
    if keep < 1:
        raise KitError(f"--keep {keep} would delete every backup", fix="Pass --keep 1 or more.")


def prune(out_dir: Path, project: str, keep: int) -> list[Path]:
    """Delete all but the newest `keep` archives of the project; returns what was deleted."""
    _check_keep(keep)
    doomed = archives_of(out_dir, project)[:-keep]
    for path in doomed:
        path.unlink()
    return doomed


def private_dir(path: Path) -> None:
    """Create the folder 0700; an existing one readable by others is made private."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)


def _require_running(containers: Sequence[ContainerState]) -> None:
    running = {c.service for c in containers if c.state == "running"}
    missing = [service for service in NEEDED_SERVICES if service not in running]
    if missing:
        raise KitError(
            f"cannot back up: {', '.join(missing)} not running",
            fix="Start the stack first: `python manage_langfuse.py start`.",
        )


def archived_images(
    pinned: Mapping[str, str], containers: Sequence[ContainerState]
) -> dict[str, str]:
    """Each service's image as the manifest records it: what its container was created
    from, else what the compose files pin. The data comes from the running version, and
    `restore` compares it with the kit that loads it."""
    running = {c.service: c.image for c in containers if c.image}
    return dict(sorted({**pinned, **running}.items()))


def _size(nbytes: int) -> str:
    if nbytes < 1024:
        return f"{nbytes} B"
    scaled = nbytes / 1024
    for unit in ("KB", "MB"):
        if scaled < 1024:
            return f"{scaled:.1f} {unit}"
        scaled /= 1024
    return f"{scaled:.1f} GB"


class _Parts:
    """The parts directory and the manifest entries of what was written to it."""

    def __init__(self, directory: Path, progress: Progress) -> None:
        self.directory, self.progress = directory, progress
        self.parts: list[Part] = []
        self.notes: list[str] = []

    def path(self, file: str) -> Path:
        path = self.directory / file
        backup_archive.private_file(path)
        return path

    def add(self, name: str, path: Path, summary: str = "") -> None:
        part = backup_archive.describe_part(name, path, summary)
        self.parts.append(part)
        detail = f" ({summary})" if summary else ""
        self.progress(f"  {name}: {_size(part.size)}{detail}")

    def skip(self, note: str) -> None:
        self.notes.append(note)
        self.progress(f"  {note}")


def _collect(project: ComposeProject, parts: _Parts, *, timeout: float) -> None:
    values = project.settings
    for name, db in backup_stores.POSTGRES.items():
        path = parts.path(f"{name}.pgdump")
        parts.add(name, path, backup_stores.dump_postgres(project, db, path))
    path = parts.path("minio.tar")
    parts.add("minio", path, backup_stores.dump_bucket(project, path))
    if values.get("LLMOPS_LEDGER_URL"):
        parts.skip("ledger: in Redis (LLMOPS_LEDGER_URL), not in this archive")
    elif replicas.replica_count(values) > 1:
        parts.skip(f"ledger: in {replicas.REDIS_SERVICE} (replicas > 1), not in this archive")
    else:
        path = parts.path("ledger.sqlite3")
        if backup_stores.dump_sqlite(project, backup_stores.LEDGER_FILE, path):
            parts.add("ledger", path, "budget ledger")
        else:
            parts.skip("ledger: none yet")
    spans = backlog.read_volume(project).spans
    spools = backup_stores.spool_files(project, parts.path("spools.txt"))
    for relative in spools:
        path = parts.path(f"spool-{relative.replace('/', '-')}")
        if backup_stores.dump_sqlite(project, backup_stores.spool_path(relative), path):
            parts.add(f"{backup_stores.SPOOL_PART_PREFIX}{relative}", path, f"spool {relative}")
    if spools:
        waiting = "an unknown number of" if spans is None else str(spans)
        note = f"{waiting} spans not yet delivered, in {len(spools)} spool(s)"
        parts.notes.append(note)
        parts.progress(f"  {note}")
    else:
        parts.skip("spool: none yet")
    # Last: ClickHouse stops for its copy, and the others should not wait for it.
    path = parts.path("clickhouse.tar")
    parts.add("clickhouse", path, backup_stores.dump_clickhouse(project, path, timeout=timeout))
    path = parts.path("env")
    backup_archive.copy_private(values.env_path, path)
    parts.add("env", path, ".env")
    keys = developer_keys.keys_path(values) if values.get("LLMOPS_KEYS_FILE") else None
    if keys is not None and keys.is_file():
        path = parts.path("keys")
        backup_archive.copy_private(keys, path)
        entries = developer_keys.read(keys).keys
        parts.add("keys", path, f"{len(entries)} developer keys")
    else:
        parts.skip("keys: no keys file (LLMOPS_KEYS_FILE)")


def create_backup(
    env_file: Path,
    out_dir: Path | None = None,
    *,
    passphrase: bytes | None = None,
    keep: int | None = None,
    timeout: float = 300.0,
    progress: Progress = console.info,
) -> Path:
    """Back up the running stack of `env_file`; returns the archive's path.

    Raises KitError (with its fix) when a store cannot be read; nothing half-written is
    left behind. With `keep`, older archives of the same project beyond the newest `keep`
    are deleted once this one is complete.
    """
    if keep is not None:
        _check_keep(keep)  # before any work, not after it
    values = settings.load(env_file)
    project = ComposeProject(values, on_output=lambda line: None)
    out_dir = out_dir or values.root / DEFAULT_DIR_NAME
    private_dir(out_dir)
    containers = project.ps()
    _require_running(containers)
    started = dt.datetime.now(dt.UTC)
    archive = out_dir / archive_name(project.name, started, sealed=passphrase is not None)
    progress(f"backing up project {project.name} into {archive}")
    work = Path(tempfile.mkdtemp(prefix=".llmops-backup-", dir=out_dir))
    try:
        parts = _Parts(work, progress)
        _collect(project, parts, timeout=timeout)
        manifest = Manifest(
            kit_version=__version__,
            created_at=started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            project=project.name,
            images=archived_images(project.images(), containers),
            parts=tuple(parts.parts),
            notes=tuple(parts.notes),
        )
        progress("  writing the archive" + (" (encrypted)" if passphrase else ""))
        backup_archive.write(archive, manifest, work, passphrase)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if keep is not None:
        for old in prune(out_dir, project.name, keep):
            progress(f"  removed {old.name} (--keep {keep})")
    return archive
