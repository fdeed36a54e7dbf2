"""The offline bundle: what `bundle load` accepts, and what it refuses before loading anything.

Archives are written by the kit's own writer from a staged directory (a stand-in images.tar,
a requirements file, a wheel file); docker is the recording stand-in, so a test can see that
a refused bundle never reached `docker load`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from llmops_kit import bundle, bundle_load, checksums
from tests.fakes.docker_cli import FakeDocker

REFERENCE = "ghcr.io/berriai/litellm:v1.106.2"
IMAGE_ID = "sha256:" + "ab" * 32


def manifest(**overrides: object) -> dict[str, object]:
    return {
        "format": bundle_load.FORMAT,
        "kit_version": "0.1.0",
        "python": bundle_load.python_tag(),
        "platform": bundle_load.platform_tag(),
        "images": [{"reference": REFERENCE, "id": IMAGE_ID}],
        **overrides,
    }


def write_bundle(tmp_path: Path, **overrides: object) -> Path:
    stage = tmp_path / "stage"
    (stage / bundle_load.WHEELS).mkdir(parents=True)
    (stage / bundle_load.IMAGES).write_bytes(b"docker save output " * 1000)
    (stage / bundle_load.REQUIREMENTS).write_text("probe==1.0\n")
    (stage / bundle_load.WHEELS / "probe-1.0-py3-none-any.whl").write_bytes(b"PK wheel")
    out = tmp_path / "kit-bundle.tar"
    bundle._write_archive(stage, out, manifest(**overrides))
    return out


@pytest.fixture
def docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    fake = FakeDocker.install(tmp_path, monkeypatch)
    fake.reply("load", stdout=f"Loaded image: {REFERENCE}\n")
    fake.reply("image", "inspect", REFERENCE, stdout=f"{IMAGE_ID}\n")
    return fake


def load(archive: Path) -> tuple[list[str], list[bundle_load.Unpacked]]:
    installs: list[bundle_load.Unpacked] = []
    unresolved = bundle_load.load(archive, installs.append, say=lambda _: None)
    return unresolved, installs


def test_the_manifest_lists_each_file_with_its_size_and_sha256(tmp_path: Path) -> None:
    archive = write_bundle(tmp_path)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        written = json.loads(tar.extractfile(bundle_load.MANIFEST).read())
    assert names[0] == bundle_load.MANIFEST
    listed = {entry["path"]: entry for entry in written["files"]}
    assert sorted(listed) == sorted(names[1:])
    images = tmp_path / "stage" / bundle_load.IMAGES
    assert listed["images.tar"]["sha256"] == checksums.sha256_of(images)
    assert listed["images.tar"]["size"] == images.stat().st_size


def test_a_sound_bundle_is_loaded_then_installed(tmp_path: Path, docker: FakeDocker) -> None:
    unresolved, installs = load(write_bundle(tmp_path))
    assert unresolved == []
    assert len(installs) == 1
    assert any(call[:1] == ["load"] for call in docker.calls())


def test_an_image_that_does_not_resolve_after_the_load_is_named(
    tmp_path: Path, docker: FakeDocker
) -> None:
    docker.reply("image", "inspect", REFERENCE, stderr="Error: No such image\n", exit=1)
    unresolved, _ = load(write_bundle(tmp_path))
    assert unresolved == [REFERENCE]


def flip_byte_in(archive: Path, member: str) -> None:
    with tarfile.open(archive) as tar:
        offset = tar.getmember(member).offset_data
    data = bytearray(archive.read_bytes())
    data[offset + 5] ^= 0x01
    archive.write_bytes(bytes(data))


def test_a_flipped_byte_is_refused_before_docker_load(tmp_path: Path, docker: FakeDocker) -> None:
    archive = write_bundle(tmp_path)
    flip_byte_in(archive, bundle_load.IMAGES)
    with pytest.raises(bundle_load.BundleError, match=r"images\.tar does not match its SHA-256"):
        load(archive)
    assert docker.calls() == []


def test_a_truncated_bundle_is_refused(tmp_path: Path, docker: FakeDocker) -> None:
    archive = write_bundle(tmp_path)
    archive.write_bytes(archive.read_bytes()[:12_000])
    with pytest.raises(bundle_load.BundleError):
        load(archive)
    assert docker.calls() == []


def test_a_file_the_manifest_does_not_list_is_refused(tmp_path: Path, docker: FakeDocker) -> None:
    archive = write_bundle(tmp_path)
    extra = tmp_path / "extra.sh"
    extra.write_text("echo hi\n")
    with tarfile.open(archive, mode="a") as tar:
        tar.add(extra, arcname="wheels/extra.sh")
    with pytest.raises(bundle_load.BundleError, match="its manifest does not list"):
        load(archive)
    assert docker.calls() == []


def test_wheels_for_another_python_are_refused_with_both_versions(
    tmp_path: Path, docker: FakeDocker
) -> None:
    archive = write_bundle(tmp_path, python="cp39")
    with pytest.raises(bundle_load.BundleError) as refused:
        load(archive)
    assert f"for cp39 on {bundle_load.platform_tag()}" in refused.value.message
    assert bundle_load.python_tag() in refused.value.message
    assert docker.calls() == []


def test_a_file_that_is_not_a_bundle_is_refused(tmp_path: Path, docker: FakeDocker) -> None:
    other = tmp_path / "other.tar"
    with tarfile.open(other, mode="w") as tar:
        tar.add(__file__, arcname="notes.txt")
    with pytest.raises(bundle_load.BundleError, match="is not a kit bundle"):
        load(other)


def test_the_pinned_requirements_are_the_projects_and_its_build_backend() -> None:
    requirements = bundle.pinned_requirements()
    assert "litellm[proxy]==1.106.2" in requirements
    assert any(r.startswith("setuptools==") for r in requirements)
    assert all("==" in r for r in requirements)


def test_load_before_any_venv_needs_only_the_standard_library() -> None:
    """manage_langfuse.py imports bundle_load with the system Python, before .venv exists:
    without site-packages (-S) the import must still work."""
    done = subprocess.run(
        [sys.executable, "-S", "-c", "import llmops_kit.bundle_load"],
        cwd=bundle.REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
