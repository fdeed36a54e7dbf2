"""`restore`: rebuild the stack from a `backup` archive, onto a fresh or an existing one.

    restore_backup(env_file, archive, passphrase=b"...", confirm=ask_the_user)

Order matters, and nothing changes until the archive is proven sound and compatible:
  1. verify: decrypt, every SHA-256, the manifest (backup_archive.read);
  2. refuse an archive from a newer kit, or whose stores ran newer images than this kit
     pins (a newer server's data does not load into an older one), with the reason;
  3. ask (the caller's `confirm`), then write `.env` (the old one kept as
     `.env.before-restore`) and the keys file: the data's secrets live in them;
  4. stop the proxy, Langfuse and ClickHouse; start the stores that restore through their
     own servers (both Postgres, MinIO, Redis) and wait for them;
  5. load both Postgres dumps, the bucket, ClickHouse's data, the ledger and the spool;
  6. start everything, wait for health, print what was restored.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from . import __version__, backup_archive, backup_stores, console, service_health, settings
from .backup_archive import Manifest
from .compose import PROXY_SERVICE, ComposeProject
from .errors import KitError

# The services whose data an archive carries, and how many version components decide
# whether their data loads: Postgres dumps load into the same or a newer major version.
VERSIONED = {
    "postgres": 1,
    "litellm-postgres": 1,
    "clickhouse": 4,
    "langfuse-web": 3,
    "langfuse-worker": 3,
    PROXY_SERVICE: 3,
}
STOPPED_FOR_RESTORE = ("langfuse-web", "langfuse-worker", PROXY_SERVICE, backup_stores.CLICKHOUSE)
SERVED_STORES = ("postgres", "litellm-postgres", "minio", "redis")
ROLLBACK_NAME = ".env.before-restore"
Confirm = Callable[[Manifest], bool]


def _version(text: str) -> tuple[int, ...] | None:
    match = re.fullmatch(r"v?(\d+(?:\.\d+)*)", text)
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def image_version(image: str) -> tuple[int, ...] | None:
    """The version in an image's tag (`postgres:17.11` -> (17, 11)); None without one."""
    reference = image.split("@", 1)[0]
    name, _, tag = reference.rpartition(":")
    return _version(tag) if name and "/" not in tag else None


def compatibility_problems(manifest: Manifest, images: Mapping[str, str]) -> list[str]:
    """Why this kit must not load the archive; empty when it may."""
    problems = []
    if manifest.format > backup_archive.FORMAT:
        problems.append(f"archive format {manifest.format} is newer than this kit reads")
    made_by, running = _version(manifest.kit_version), _version(__version__)
    if made_by is None or running is None or made_by > running:
        problems.append(
            f"the archive was made by kit {manifest.kit_version}, newer than this kit "
            f"({__version__}): restore it with that version"
        )
    for service, width in VERSIONED.items():
        archived, current = manifest.images.get(service), images.get(service)
        if archived is None or current is None or archived == current:
            continue
        old, new = image_version(archived), image_version(current)
        if old is None or new is None:
            problems.append(
                f"{service}: archived image {archived} cannot be compared with {current}"
            )
        elif old[:width] > new[:width]:
            problems.append(
                f"{service}: the archive's data comes from {archived}, newer than {current}: "
                "a newer server's data does not load into an older one"
            )
    return problems


def _target_settings(env_file: Path, archived_env: Path) -> settings.Settings:
    """The archived `.env` as it will be once written to `env_file`."""
    return settings.Settings(settings.load(archived_env, validate=False), env_file)


def _write_private(source: Path, target: Path, *, keep_old_as: Path | None) -> None:
    if keep_old_as is not None and target.exists() and target.read_bytes() != source.read_bytes():
        backup_archive.copy_private(target, keep_old_as)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.restoring")
    backup_archive.copy_private(source, partial)
    partial.replace(target)


def _restore_files(manifest: Manifest, parts: Path, values: settings.Settings) -> None:
    _write_private(parts / "env", values.env_path, keep_old_as=values.root / ROLLBACK_NAME)
    keys = manifest.part("keys")
    if keys is not None and values.get("LLMOPS_KEYS_FILE"):
        _write_private(
            parts / keys.file, values.root / values["LLMOPS_KEYS_FILE"], keep_old_as=None
        )


def _restore_stores(
    project: ComposeProject,
    manifest: Manifest,
    parts: Path,
    progress: Callable[[str], None],
    timeout: float,
) -> list[str]:
    done: list[str] = []
    project.stop(list(STOPPED_FOR_RESTORE))
    project.up(list(SERVED_STORES), no_deps=True)
    service_health.wait_healthy(project, list(SERVED_STORES), timeout=timeout)
    for name, db in backup_stores.POSTGRES.items():
        part = manifest.part(name)
        if part is not None:
            progress(f"  {name}: loading the dump")
            backup_stores.restore_postgres(project, db, parts / part.file)
            done.append(f"{name}: {part.summary}")
    part = manifest.part("minio")
    if part is not None:
        progress("  minio: putting the objects")
        count = backup_stores.restore_bucket(project, parts / part.file)
        done.append(f"minio: {count} objects")
    part = manifest.part("clickhouse")
    if part is not None:
        progress("  clickhouse: replacing the data directory")
        backup_stores.restore_clickhouse(project, parts / part.file)
    part = manifest.part("ledger")
    if part is not None:
        progress("  ledger: replacing the database")
        backup_stores.restore_sqlite(project, backup_stores.LEDGER_FILE, parts / part.file)
        done.append(f"ledger: {part.summary}")
    for part in manifest.parts:
        if part.name.startswith(backup_stores.SPOOL_PART_PREFIX):
            relative = part.name.removeprefix(backup_stores.SPOOL_PART_PREFIX)
            progress(f"  {part.name}: replacing the database")
            backup_stores.restore_sqlite(
                project, backup_stores.spool_path(relative), parts / part.file
            )
            done.append(f"{part.name}: {part.summary}")
    return done


def restore_backup(
    env_file: Path,
    archive: Path,
    *,
    passphrase: bytes | None = None,
    confirm: Confirm | None = None,
    timeout: float = 300.0,
    progress: Callable[[str], None] = console.info,
) -> None:
    """Restore `archive` onto the stack of `env_file`; KitError (with a fix) on any refusal.

    `confirm` sees the verified manifest and returns whether to go on; without it the
    restore goes on (the command asks the user; `--yes` skips the question).
    """
    work = Path(tempfile.mkdtemp(prefix=".llmops-restore-", dir=env_file.parent))
    try:
        progress(f"verifying {archive}")
        manifest = backup_archive.read(archive, work, passphrase)
        parts = work / backup_archive.PARTS_DIR
        values = _target_settings(env_file, parts / "env")
        project = ComposeProject(values, on_output=lambda line: None)
        problems = compatibility_problems(manifest, project.images())
        if problems:
            raise KitError(
                "this archive cannot be restored here: " + "; ".join(problems),
                fix="Restore it with the kit version (and images) that made it.",
            )
        progress(
            f"archive of project {manifest.project}, made {manifest.created_at} by kit "
            f"{manifest.kit_version}; every part matches its SHA-256"
        )
        if confirm is not None and not confirm(manifest):
            raise KitError(
                "restore cancelled: nothing was changed", fix="Pass --yes to skip the question."
            )
        _restore_files(manifest, parts, values)
        progress(f"restoring into project {project.name}")
        done = _restore_stores(project, manifest, parts, progress, timeout)
        progress("starting every service")
        project.up()
        service_health.wait_healthy(project, timeout=timeout)
        done.insert(0, f"clickhouse: {backup_stores.clickhouse_counts(project, work / 'count')}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    keys = manifest.part("keys")
    done.append(f"keys: {keys.summary}" if keys else "keys: no keys file in the archive")
    console.success(f"restored project {project.name} from {archive.name}")
    for line in done:
        progress(f"  {line}")
