"""The pre-flight is doctor's own checks: the subset, and the host checks the CLI tests of
`start` do not reach (socket permissions, old compose, ports the project itself holds)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmops_kit import compose
from llmops_kit.doctor import CHECKS, Status, run_checks
from llmops_kit.doctor.engine import Engine, engine_error
from llmops_kit.doctor.host import port_holder
from llmops_kit.doctor.preflight import PREFLIGHT, PREFLIGHT_IDS
from tests.fakes.docker_cli import FakeDocker
from tests.unit.cli_harness import ps_line
from tests.unit.doctor.conftest import ContextFactory, run_check, set_line

ENGINE_INFO = '{"ServerVersion": "28.2.2", "MemTotal": 8589934592, "DockerRootDir": ""}\n'


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


@pytest.fixture
def docker(tmp_path: Path, env_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    set_line(env_path, "COMPOSE_PROJECT_NAME", "kit")
    fake = FakeDocker.install(tmp_path, monkeypatch)
    fake.reply("info", stdout=ENGINE_INFO)
    fake.reply("compose", "version", "--short", stdout="2.40.3\n")
    fake.reply("compose", "ps", stdout="")
    return fake


def test_the_preflight_is_doctors_checks_with_what_they_require_before_them() -> None:
    assert [c.id for c in PREFLIGHT] == list(PREFLIGHT_IDS)
    assert all(any(c is d for d in CHECKS) for c in PREFLIGHT)
    for n, check in enumerate(PREFLIGHT):
        assert set(check.requires) <= set(PREFLIGHT_IDS[:n]), check.id


def test_a_socket_permission_error_says_how_to_join_the_docker_group() -> None:
    engine = Engine(
        error="permission denied while trying to connect to the Docker daemon socket at "
        "unix:///var/run/docker.sock"
    )
    error = engine_error(engine)
    assert error is not None
    assert error.fix == compose.SOCKET_PERMISSION_FIX


def test_compose_v1_fails_as_too_old(docker: FakeDocker, make_context: ContextFactory) -> None:
    docker.reply("compose", "version", "--short", stdout="1.29.2\n")
    finding = run_check(make_context(), "host.compose")
    assert finding.status is Status.FAIL
    assert finding.message == "compose 1.29.2 is too old; the kit needs v2"
    assert finding.fix == compose.COMPOSE_V2_FIX


def test_compose_files_are_not_resolved_without_compose_v2(
    docker: FakeDocker, make_context: ContextFactory
) -> None:
    docker.reply("compose", "version", "--short", stderr="not a docker command\n", exit=1)
    checks = [c for c in CHECKS if c.id in ("host.compose", "host.compose_config")]
    compose_check, config_check = run_checks(make_context(), checks)
    assert compose_check.message == "`docker compose` (compose v2) is not available"
    assert config_check.status is Status.SKIP


def test_a_port_the_project_already_publishes_is_not_a_problem(
    docker: FakeDocker, make_context: ContextFactory, env_path: Path, listener: int
) -> None:
    set_line(env_path, "MINIO_S3_PORT", str(listener))
    assert run_check(make_context(), "host.ports").status is Status.FAIL
    minio = ps_line("minio", published=[("127.0.0.1", listener, 9000)])
    docker.reply("compose", "ps", stdout=minio + "\n")
    assert run_check(make_context(), "host.ports").status is Status.OK


def test_every_taken_port_is_named_at_once(
    docker: FakeDocker, make_context: ContextFactory, env_path: Path, listener: int
) -> None:
    with socket.socket() as second:
        second.bind(("127.0.0.1", 0))
        second.listen()
        set_line(env_path, "MINIO_S3_PORT", str(listener))
        set_line(env_path, "LANGFUSE_WEB_PORT", str(second.getsockname()[1]))
        finding = run_check(make_context(), "host.ports")
    assert finding.status is Status.FAIL
    assert "(LANGFUSE_WEB_PORT) is held by" in finding.message
    assert "(MINIO_S3_PORT) is held by" in finding.message
    assert "set LANGFUSE_WEB_PORT=" in finding.fix
    assert "set MINIO_S3_PORT=" in finding.fix


def test_port_holder_names_the_listening_process(listener: int) -> None:
    comm = Path("/proc/self/comm").read_text().strip()
    assert port_holder(listener) == f"{comm} (pid {os.getpid()})"


def test_compose_that_prints_no_model_fails_with_a_fix_not_a_crash(
    docker: FakeDocker, make_context: ContextFactory
) -> None:
    docker.reply("compose", "config", "--format", "json", stdout="")
    finding = run_check(make_context(), "host.compose_config")
    assert finding.status is Status.FAIL
    assert finding.message == "`docker compose config --format json` printed no JSON model"
    assert finding.fix.startswith("Update the compose v2 plugin")
