"""Pre-flight checks the CLI tests do not reach: disk, socket permissions, old compose, and
ports the project itself already holds."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from llmops_kit import compose, preflight, settings
from llmops_kit.compose import PortBinding

GIB = 1024**3


class Usage(NamedTuple):
    total: int
    used: int
    free: int


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def test_low_disk_on_the_docker_data_root_is_reported_with_what_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(100 * GIB, 94 * GIB, 6 * GIB))
    problem = preflight.check_disk(preflight.Engine(version="28", data_root=str(tmp_path)))
    assert problem is not None
    assert problem.message == (
        f"6.0 GiB free on {tmp_path} (Docker's data root); the stack needs at least 10 GiB"
    )


def test_a_data_root_not_on_this_machine_is_not_measured() -> None:
    engine = preflight.Engine(version="28", data_root="/no/such/docker/root")
    assert preflight.check_disk(engine) is None


def test_a_socket_permission_error_says_how_to_join_the_docker_group() -> None:
    engine = preflight.Engine(
        error="permission denied while trying to connect to the Docker daemon socket at "
        "unix:///var/run/docker.sock"
    )
    problem = preflight.check_engine(engine)
    assert problem is not None
    assert problem.fix == compose.SOCKET_PERMISSION_FIX


def test_compose_v1_is_reported_as_too_old() -> None:
    problem = preflight.check_compose("1.29.2")
    assert problem is not None
    assert problem.message == "compose 1.29.2 is too old; the kit needs v2"


def test_a_port_the_project_already_publishes_is_not_a_problem(
    tmp_path: Path, listener: int
) -> None:
    resolved = settings.load(tmp_path / ".env", {"LITELLM_PORT": str(listener)})
    bindings = [PortBinding("litellm", "127.0.0.1", listener)]
    assert preflight.check_ports(bindings, resolved, ours={listener}) == []


def test_port_holder_names_the_listening_process(listener: int) -> None:
    comm = Path("/proc/self/comm").read_text().strip()
    assert preflight.port_holder(listener) == f"{comm} (pid {os.getpid()})"
