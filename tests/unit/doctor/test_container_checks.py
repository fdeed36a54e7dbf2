"""Container checks over the recording `docker` stand-in: engine down, a loop, an OOM kill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmops_kit.doctor import Status
from tests.fakes.docker_cli import FakeDocker
from tests.unit.cli_harness import SERVICES, ps_line
from tests.unit.doctor.conftest import ContextFactory, run_check, set_line

DEAD_ENGINE = (
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
    "Is the docker daemon running?\n"
)
ENGINE_INFO = json.dumps({"ServerVersion": "28.2.2", "MemTotal": 8 * 1024**3, "DockerRootDir": ""})


def _inspect(service: str, *, restarts: int = 0, oom: bool = False) -> dict[str, object]:
    """The fields of `docker inspect` the checks read, as docker 28 prints them."""
    return {
        "Name": f"/kit-{service}-1",
        "RestartCount": restarts,
        "State": {"Status": "running", "OOMKilled": oom, "ExitCode": 0},
        "Config": {"Env": ["LANGFUSE_HOST=http://langfuse-web:3000", "PATH=/usr/bin"]},
    }


@pytest.fixture
def docker(tmp_path: Path, env_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    set_line(env_path, "COMPOSE_PROJECT_NAME", "kit")
    fake = FakeDocker.install(tmp_path, monkeypatch)
    fake.reply("info", stdout=ENGINE_INFO)
    fake.reply("compose", "config", "--services", stdout="\n".join(SERVICES) + "\n")
    fake.reply("compose", "ps", stdout="\n".join(ps_line(s) for s in SERVICES) + "\n")
    return fake


def test_an_unreachable_engine_fails_the_container_checks_with_the_start_fix(
    docker: FakeDocker, make_context: ContextFactory
) -> None:
    docker.reply("info", stderr=DEAD_ENGINE, exit=1)
    ctx = make_context()
    state = run_check(ctx, "containers.state")
    assert state.status is Status.FAIL
    assert state.message.startswith("the Docker engine is not reachable: Cannot connect")
    assert state.fix.startswith("Start Docker")
    assert run_check(ctx, "langfuse.redis").status is Status.SKIP
    assert run_check(ctx, "host.docker").status is Status.FAIL


def test_a_stopped_store_is_named_with_the_restart_command(
    docker: FakeDocker, make_context: ContextFactory, env_path: Path
) -> None:
    lines = [ps_line(s) for s in SERVICES if s != "redis"]
    lines.append(ps_line("redis", state="exited", health="", exit_code=137))
    docker.reply("compose", "ps", stdout="\n".join(lines) + "\n")
    ctx = make_context()
    finding = run_check(ctx, "langfuse.redis")
    assert finding.status is Status.FAIL
    assert finding.message.startswith("redis is exited (137)")
    assert finding.fix.startswith(f"python manage_langfuse.py restart redis --env-file {env_path}")
    assert run_check(ctx, "containers.state").message == "redis is exited (137)"


def test_a_restart_loop_fails_and_an_oom_kill_names_the_service(
    docker: FakeDocker, make_context: ContextFactory
) -> None:
    items = [_inspect(s) for s in SERVICES if s not in ("litellm", "clickhouse")]
    items += [_inspect("litellm", restarts=5), _inspect("clickhouse", oom=True)]
    docker.reply("inspect", stdout=json.dumps(items))
    ctx = make_context()
    loop = run_check(ctx, "containers.restarts")
    assert loop.status is Status.FAIL
    assert loop.message == "restart loop: litellm 5x"
    assert loop.fix.startswith("python manage_langfuse.py logs litellm --tail 50")
    oom = run_check(ctx, "containers.oom")
    assert oom.status is Status.FAIL
    assert oom.message == "killed for lack of memory: clickhouse"


def test_an_unhealthy_container_fails_and_a_starting_one_only_warns(
    docker: FakeDocker, make_context: ContextFactory
) -> None:
    lines = [ps_line(s) for s in SERVICES if s not in ("clickhouse", "langfuse-web")]
    lines += [ps_line("clickhouse", health="unhealthy"), ps_line("langfuse-web", health="starting")]
    docker.reply("compose", "ps", stdout="\n".join(lines) + "\n")
    finding = run_check(make_context(), "containers.health")
    assert finding.status is Status.FAIL
    assert finding.message == "unhealthy: clickhouse"
    docker.reply("compose", "ps", stdout="\n".join([*lines[:-2], lines[-1]]) + "\n")
    starting = run_check(make_context(), "containers.health")
    assert starting.status is Status.WARN
    assert "2 to 3 minutes" in starting.message


def test_doctor_and_start_draw_the_memory_line_at_the_same_place(
    docker: FakeDocker, make_context: ContextFactory
) -> None:
    assert run_check(make_context(), "host.memory").message == "Docker has 8.0 GiB of memory"
    small = {"ServerVersion": "28.2.2", "MemTotal": 3 * 1024**3, "DockerRootDir": ""}
    docker.reply("info", stdout=json.dumps(small))
    finding = run_check(make_context(), "host.memory")
    assert finding.status is Status.FAIL
    assert finding.message == "Docker has 3.0 GiB of memory; Langfuse needs at least 4 GiB"
    assert finding.fix.startswith("Give Docker more memory")


def _replica(number: int, health: str = "healthy") -> str:
    """A `ps` line of proxy replica `number`, named as compose names replicas."""
    record = json.loads(ps_line("litellm", health=health))
    record.update(Name=f"kit-litellm-{number}", Names=f"kit-litellm-{number}")
    return json.dumps(record)


def test_each_replica_is_named_and_one_missing_from_the_setting_warns(
    docker: FakeDocker, make_context: ContextFactory, env_path: Path
) -> None:
    set_line(env_path, "LLMOPS_PROXY_REPLICAS", "3")
    lines = [ps_line(s) for s in SERVICES if s != "litellm"]
    lines += [_replica(1), _replica(2, health="unhealthy"), _replica(3)]
    docker.reply("compose", "ps", stdout="\n".join(lines) + "\n")
    ctx = make_context()

    health = run_check(ctx, "containers.health")
    replicas = run_check(ctx, "containers.replicas")

    assert health.message == "unhealthy: kit-litellm-2"
    assert replicas.status is Status.WARN
    assert replicas.message.startswith("2 of 3 replicas healthy: kit-litellm-1 running (healthy)")
    assert replicas.fix.startswith("python manage_langfuse.py start")


def test_as_many_healthy_replicas_as_the_setting_pass(
    docker: FakeDocker, make_context: ContextFactory, env_path: Path
) -> None:
    set_line(env_path, "LLMOPS_PROXY_REPLICAS", "2")
    lines = [ps_line(s) for s in SERVICES if s != "litellm"] + [_replica(1), _replica(2)]
    docker.reply("compose", "ps", stdout="\n".join(lines) + "\n")

    assert run_check(make_context(), "containers.replicas").status is Status.OK
