"""The compose wrapper: the command line of each verb, `ps` parsing, errors without secrets.

`docker` is the recording stand-in from tests/fakes/docker_cli.py, so the argv checked is
the one a real process received. The `ps` samples were recorded from compose 2.40.3.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from llmops_kit import compose, settings
from llmops_kit.compose import ComposeProject, ContainerState, Publisher, parse_ps
from llmops_kit.errors import ComposeError, DockerError
from tests.fakes.docker_cli import FakeDocker

DATA = Path(__file__).parent / "data"


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / "stack.env"
    settings.init_env(path)
    return path


@pytest.fixture
def docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    return FakeDocker.install(tmp_path, monkeypatch)


def project_for(env_file: Path, **environ: str) -> ComposeProject:
    values = {"COMPOSE_PROJECT_NAME": "kit-test", **environ}
    return ComposeProject(settings.load(env_file, values))


def base_argv(env_file: Path) -> list[str]:
    return [
        "compose",
        "-p",
        "kit-test",
        "--project-directory",
        str(settings.REPO_ROOT),
        "--env-file",
        str(env_file),
        "-f",
        str(settings.REPO_ROOT / "compose" / "langfuse.yml"),
        "-f",
        str(settings.REPO_ROOT / "compose" / "litellm.yml"),
    ]


def test_base_command_names_project_root_env_file_and_both_compose_files(env_file: Path) -> None:
    assert project_for(env_file).base_command == ["docker", *base_argv(env_file)]


def test_extra_compose_files_follow_the_production_files(env_file: Path) -> None:
    extra = os.pathsep.join(["tests/e2e/testbed/overlay.yml", "/abs/local.yml"])
    project = project_for(env_file, LLMOPS_EXTRA_COMPOSE_FILES=extra)
    assert project.base_command[-4:] == [
        "-f",
        str(settings.REPO_ROOT / "tests/e2e/testbed/overlay.yml"),
        "-f",
        "/abs/local.yml",
    ]


VERBS: list[tuple[str, Callable[[ComposeProject], object], list[str]]] = [
    ("up", lambda p: p.up(), ["up", "--detach"]),
    (
        "recreate one",
        lambda p: p.up(["litellm"], no_deps=True, force_recreate=True),
        ["up", "--detach", "--no-deps", "--force-recreate", "litellm"],
    ),
    ("down", lambda p: p.down(), ["down"]),
    ("down volumes", lambda p: p.down(volumes=True), ["down", "--volumes"]),
    ("stop", lambda p: p.stop(), ["stop"]),
    ("restart one", lambda p: p.restart(["redis"]), ["restart", "redis"]),
    ("ps", lambda p: p.ps(), ["ps", "--all", "--format", "json"]),
    (
        "logs",
        lambda p: list(p.logs(["litellm"], follow=True, tail=5)),
        ["logs", "--no-color", "--follow", "--tail", "5", "litellm"],
    ),
    (
        "exec",
        lambda p: p.exec("litellm", ["python", "spool_health.py"]),
        ["exec", "-T", "litellm", "python", "spool_health.py"],
    ),
    ("config", lambda p: p.config(), ["config", "--format", "json"]),
    ("services", lambda p: p.services(), ["config", "--services"]),
]


@pytest.mark.parametrize(("verb", "call", "args"), VERBS, ids=[v[0] for v in VERBS])
def test_each_verb_runs_its_compose_command(
    verb: str,
    call: Callable[[ComposeProject], object],
    args: list[str],
    env_file: Path,
    docker: FakeDocker,
) -> None:
    docker.reply("compose", stdout="{}" if verb == "config" else "")
    call(project_for(env_file))
    assert docker.calls() == [[*base_argv(env_file), *args]]


def test_compose_interpolates_the_values_the_settings_resolved(
    env_file: Path, docker: FakeDocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_RECORD_ENV", "DATABASE_URL,LITELLM_PORT")
    docker.reply("compose")
    project = project_for(env_file, LITELLM_PORT="4555")
    project.stop()
    assert docker.environments() == [
        {"DATABASE_URL": project.settings["DATABASE_URL"], "LITELLM_PORT": "4555"}
    ]


def test_progress_of_a_changing_verb_reaches_on_output_masked(
    env_file: Path, docker: FakeDocker
) -> None:
    resolved = settings.load(env_file, {})
    password = resolved["REDIS_AUTH"]
    docker.reply("up", stderr=f" Container redis  Started (auth {password})\n")
    seen: list[str] = []
    ComposeProject(resolved, on_output=seen.append).up()
    assert seen == [" Container redis  Started (auth ***)"]


def records(name: str) -> list[ContainerState]:
    return parse_ps((DATA / name).read_text())


def test_ps_reads_state_health_exit_code_publishers_and_image() -> None:
    by_service = {c.service: c for c in records("compose_ps_settled.jsonl")}
    assert by_service["web"] == ContainerState(
        service="web",
        name="capture-web-1",
        state="running",
        health="healthy",
        exit_code=0,
        publishers=(Publisher("127.0.0.1", 8000, 32768, "tcp"),),
        image="capture-standin:1",
    )
    assert by_service["oneshot"].state == "exited"
    assert by_service["oneshot"].exit_code == 3
    assert by_service["sick"].health == "unhealthy"
    assert by_service["plain"].health == ""


def test_ps_orders_containers_by_service() -> None:
    services = [c.service for c in records("compose_ps_settled.jsonl")]
    assert services == ["oneshot", "plain", "sick", "web"]


@pytest.mark.parametrize(
    ("sample", "ready"),
    [
        ("compose_ps_settled.jsonl", {"oneshot": False, "plain": True, "sick": False, "web": True}),
        (
            "compose_ps_starting.jsonl",
            {"oneshot": False, "plain": True, "sick": False, "web": False},
        ),
        (
            "compose_ps_one_stopped.jsonl",
            {"oneshot": False, "plain": False, "sick": False, "web": True},
        ),
    ],
)
def test_a_container_is_ready_when_running_and_not_failing_its_healthcheck(
    sample: str, ready: dict[str, bool]
) -> None:
    assert {c.service: c.ready for c in records(sample)} == ready


def test_ps_port_column_shows_published_ports_only() -> None:
    by_service = {c.service: c for c in records("compose_ps_settled.jsonl")}
    assert by_service["web"].ports == "127.0.0.1:32768->8000/tcp"
    exposed_only = ContainerState(
        "db", "x-db-1", "running", "", 0, (Publisher("", 5432, 0, "tcp"),)
    )
    assert exposed_only.ports == ""


def test_ps_of_the_kit_stack_reads_every_service_and_its_published_port() -> None:
    containers = records("compose_ps_kit_stack.jsonl")
    assert all(c.ready for c in containers)
    assert {c.service: c.ports for c in containers if c.ports} == {
        "bedrock": "127.0.0.1:46717->8080/tcp",
        "langfuse-web": "127.0.0.1:57323->3000/tcp",
        "litellm": "127.0.0.1:43827->4000/tcp",
        "minio": "127.0.0.1:50223->9000/tcp",
    }


def test_ps_accepts_the_json_array_older_compose_prints() -> None:
    lines = (DATA / "compose_ps_settled.jsonl").read_text().splitlines()
    as_array = json.dumps([json.loads(line) for line in lines])
    assert parse_ps(as_array) == records("compose_ps_settled.jsonl")


def test_ps_of_a_project_without_containers_is_empty() -> None:
    assert parse_ps("") == []


def test_compose_error_carries_argv_exit_code_and_stderr_with_secrets_masked(
    env_file: Path, docker: FakeDocker
) -> None:
    project = project_for(env_file)
    password = project.settings["POSTGRES_PASSWORD"]
    url = project.settings["DATABASE_URL"]
    docker.reply("exec", stderr=f"connect {url} failed\npassword {password} rejected\n", exit=2)
    with pytest.raises(ComposeError) as caught:
        project.exec("postgres", ["psql", url])
    error = caught.value
    assert error.returncode == 2
    assert error.argv[-2:] == ["psql", "postgresql://postgres:***@postgres:5432/postgres"]
    assert error.stderr == (
        "connect postgresql://postgres:***@postgres:5432/postgres failed\npassword *** rejected\n"
    )
    assert password not in str(error)


def test_a_streamed_verb_fails_with_its_output_as_stderr(
    env_file: Path, docker: FakeDocker
) -> None:
    docker.reply("up", stderr="Error response from daemon: no space left on device\n", exit=1)
    with pytest.raises(ComposeError) as caught:
        project_for(env_file).up()
    assert caught.value.returncode == 1
    assert caught.value.stderr == "Error response from daemon: no space left on device\n"


def test_an_unreachable_engine_error_says_how_to_start_docker(
    env_file: Path, docker: FakeDocker
) -> None:
    message = (
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
        "Is the docker daemon running?\n"
    )
    docker.reply("ps", stderr=message, exit=1)
    with pytest.raises(ComposeError) as caught:
        project_for(env_file).ps()
    assert caught.value.fix == compose.ENGINE_FIX


def test_a_missing_docker_cli_says_how_to_install_it(
    env_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DockerError) as caught:
        project_for(env_file).ps()
    assert caught.value.fix == compose.DOCKER_INSTALL_FIX
