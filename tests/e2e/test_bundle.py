"""The offline install on a real engine: `bundle create`, the image gone, `bundle load`, `start`.

The stack's images are the stand-in image under a tag of this test's own, so removing that
tag leaves the engine without what the compose files pin, as on an offline host: `start`
must then fail with the one-line pull error, and start after `bundle load` without any
registry (none exists here). The wheel part uses one tiny local wheel instead of
downloading the kit's requirements from PyPI (`pip download --no-index --find-links`), and
installs it into a fresh venv, offline.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmops_kit import bundle, bundle_load
from tests.e2e.stack import StackEnv, write_stack_env
from tests.e2e.test_lifecycle import manage
from tests.e2e.testbed.image import HostPaths

PROBE = "llmops_bundle_probe"
PROBE_REQUIREMENT = "llmops-bundle-probe==1.0"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_probe_wheel(directory: Path) -> Path:
    """A minimal valid pure-Python wheel, so pip resolves and installs something real."""
    dist_info = f"{PROBE}-1.0.dist-info"
    files = {
        f"{PROBE}/__init__.py": b'MESSAGE = "installed from the bundle"\n',
        f"{dist_info}/METADATA": b"Metadata-Version: 2.1\nName: llmops-bundle-probe\n"
        b"Version: 1.0\n",
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = [_record_line(name, data) for name, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{PROBE}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def offline_stack(
    testbed_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackEnv]:
    """A stack pinned to a tag of its own of the stand-in image."""
    tag = f"llmops-bundle-e2e:{secrets.token_hex(4)}"
    docker("tag", testbed_image, tag).check_returncode()
    stack = write_stack_env(tmp_path_factory.mktemp("bundle"), tag, HostPaths.current())
    try:
        yield stack
    finally:
        stack.project.down(volumes=True)
        docker("rmi", tag)


def test_a_bundle_brings_back_the_images_and_wheels_start_needs(
    offline_stack: StackEnv, tmp_path: Path
) -> None:
    tag = offline_stack.settings["LLMOPS_TESTBED_IMAGE"]
    image_id = bundle_load.image_id(tag)
    wheels = tmp_path / "index"
    wheels.mkdir()
    build_probe_wheel(wheels)

    archive = bundle.create(
        offline_stack.project,
        tmp_path / "kit-bundle.tar",
        requirements=[PROBE_REQUIREMENT],
        pip_options=["--no-index", "--find-links", str(wheels)],
        say=lambda _: None,
    )

    docker("rmi", tag).check_returncode()
    assert bundle_load.image_id(tag) is None
    refused = manage(offline_stack, "start")
    assert refused.code == 1
    assert refused.stderr.splitlines()[-1].startswith(f"Error: cannot pull {tag} (service ")
    assert "from registry-1.docker.io" in refused.stderr.splitlines()[-1]
    assert "bundle load" in refused.stderr.splitlines()[-1]

    venv = tmp_path / "offline-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    unresolved = bundle_load.load(
        archive, lambda unpacked: bundle_load.pip_install(python, unpacked), say=lambda _: None
    )
    assert unresolved == []
    assert bundle_load.image_id(tag) == image_id
    probe = subprocess.run(
        [str(python), "-c", f"import {PROBE}; print({PROBE}.MESSAGE)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "installed from the bundle"

    started = manage(offline_stack, "start")
    assert started.code == 0, started.stderr
    assert all(c.ready for c in offline_stack.project.ps())
