"""What `restore` refuses before touching anything, and what `backup --keep N` deletes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from llmops_kit import __version__
from llmops_kit.backup import archive_name, archived_images, prune
from llmops_kit.backup_archive import Manifest
from llmops_kit.compose import ContainerState
from llmops_kit.errors import KitError
from llmops_kit.restore import compatibility_problems, image_version

IMAGES = {
    "postgres": "postgres:17.11",
    "litellm-postgres": "postgres:17.11",
    "clickhouse": "clickhouse/clickhouse-server:25.12.11.4",
    "langfuse-web": "docker.langfuse.com/langfuse/langfuse:4.59.0",
    "langfuse-worker": "docker.langfuse.com/langfuse/langfuse-worker:4.59.0",
    "litellm": "ghcr.io/berriai/litellm:v1.106.2",
    "minio": "cgr.dev/chainguard/minio@sha256:bd01",
}


def manifest(kit_version: str = __version__, **images: str) -> Manifest:
    return Manifest(
        kit_version=kit_version,
        created_at="2026-12-07T00:00:00Z",
        project="langfuse",
        images={**IMAGES, **images},
        parts=(),
    )


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("postgres:17.11", (17, 11)),
        ("ghcr.io/berriai/litellm:v1.106.2", (1, 106, 2)),
        ("localhost:5000/postgres", None),
        ("cgr.dev/chainguard/minio@sha256:bd01", None),
        ("llmops-testbed:0123abcd4567", None),
    ],
)
def test_image_version_reads_the_tag(image: str, version: tuple[int, ...] | None) -> None:
    assert image_version(image) == version


def test_an_archive_of_the_same_kit_and_images_is_accepted() -> None:
    assert compatibility_problems(manifest(), IMAGES) == []


def test_an_archive_from_a_newer_kit_is_refused_with_the_reason() -> None:
    (problem,) = compatibility_problems(manifest(kit_version="99.0.0"), IMAGES)
    assert problem.startswith("the archive was made by kit 99.0.0, newer than this kit")


def test_data_from_a_newer_postgres_major_is_refused_an_older_one_is_not() -> None:
    (problem,) = compatibility_problems(manifest(postgres="postgres:18.1"), IMAGES)
    assert problem.startswith("postgres: the archive's data comes from postgres:18.1, newer than")
    assert compatibility_problems(manifest(postgres="postgres:17.2"), IMAGES) == []
    assert compatibility_problems(manifest(postgres="postgres:16.9"), IMAGES) == []


def test_clickhouse_files_from_a_newer_server_are_refused() -> None:
    newer = "clickhouse/clickhouse-server:25.12.12.1"
    (problem,) = compatibility_problems(manifest(clickhouse=newer), IMAGES)
    assert problem.startswith(f"clickhouse: the archive's data comes from {newer}")


def test_images_that_cannot_be_compared_are_refused_unless_equal() -> None:
    (problem,) = compatibility_problems(manifest(clickhouse="llmops-testbed:aaaa"), IMAGES)
    assert "cannot be compared" in problem
    # MinIO's data goes through the S3 API: its image does not matter.
    assert compatibility_problems(manifest(minio="minio/minio:latest"), IMAGES) == []


def _touch(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_bytes(b"x")
    return path


def test_keep_deletes_only_the_oldest_archives_of_this_project(tmp_path: Path) -> None:
    names = [
        archive_name("langfuse", dt.datetime(2026, 12, day, 3, tzinfo=dt.UTC), sealed=day % 2 == 0)
        for day in (1, 2, 3, 4)
    ]
    for name in names:
        _touch(tmp_path, name)
    other = _touch(tmp_path, "llmops-backup-other-20261201T030000Z.tar")
    unrelated = _touch(tmp_path, "notes.txt")

    deleted = prune(tmp_path, "langfuse", 2)

    assert [p.name for p in deleted] == names[:2]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*names[2:], other.name, unrelated.name]
    )


def test_keep_zero_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KitError, match="would delete every backup"):
        prune(tmp_path, "langfuse", 0)


def test_a_backup_taken_mid_upgrade_records_the_images_the_data_came_from() -> None:
    """`upgrade` backs up after the new kit pins newer images: the archive must name the
    running ones, or the rollback (restore with the previous kit) would refuse it."""
    pinned = {**IMAGES, "clickhouse": "clickhouse/clickhouse-server:26.1.2.3"}
    running = ContainerState(
        "clickhouse", "kit-clickhouse-1", "running", "healthy", 0, (), IMAGES["clickhouse"]
    )
    recorded = archived_images(pinned, [running])
    assert recorded == IMAGES
    assert compatibility_problems(manifest(**recorded), IMAGES) == []
