"""The lifecycle CLI on a real engine, driven as a user drives it: `manage_langfuse.py ...`.

One stack start is shared by the module: start -> status -> update-config -> restart ->
stop -> down, in file order. The bad-input cases (a taken port, a stopped engine) use their
own project name or a dead socket, so they never touch the shared stack.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import yaml

from llmops_kit import settings
from tests.e2e.stack import StackEnv, free_port

pytestmark = pytest.mark.takes_stack_down  # it ends with `stop` and `down`

ENTRY = str(settings.REPO_ROOT / "manage_langfuse.py")
START_TIMEOUT_S = 240
COMMAND_TIMEOUT_S = START_TIMEOUT_S + 120


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def manage(stack: StackEnv, *args: str, **environ: str) -> Outcome:
    """Run the CLI in a child process with this stack's .env; `environ` overrides it."""
    inherited = {k: v for k, v in os.environ.items() if k not in settings.BY_NAME}
    done = subprocess.run(
        [sys.executable, ENTRY, *args, "--env-file", str(stack.env_file)],
        capture_output=True,
        text=True,
        env={**inherited, "NO_COLOR": "1", "COLUMNS": "120", **environ},
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def inspect(container: str) -> tuple[str, str]:
    """A container's id and start time: both change when it is recreated or restarted."""
    done = subprocess.run(
        ["docker", "inspect", "--format", "{{.Id}} {{.State.StartedAt}}", container],
        capture_output=True,
        text=True,
        check=True,
    )
    container_id, started = done.stdout.split()
    return container_id, started


def _labelled(listing: list[str], project_name: str) -> list[str]:
    """Ids of the Docker objects a `docker ... ls`-style listing shows for a compose project."""
    label = f"label=com.docker.compose.project={project_name}"
    done = subprocess.run(
        ["docker", *listing, "--quiet", "--filter", label],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def containers_of(project_name: str) -> list[str]:
    return _labelled(["ps", "--all"], project_name)


def volumes_of(project_name: str) -> list[str]:
    return _labelled(["volume", "ls"], project_name)


def container_name(stack: StackEnv, service: str) -> str:
    return f"{stack.settings['COMPOSE_PROJECT_NAME']}-{service}-1"


@pytest.fixture(scope="module")
def original_config(stack_env: StackEnv) -> Iterator[str]:
    """The config copy's text; put back after the module, for the tests that follow."""
    text = stack_env.config_file.read_text()
    yield text
    stack_env.config_file.write_text(text)


@pytest.fixture(scope="module")
def started(stack_env: StackEnv, original_config: str) -> Outcome:
    outcome = manage(stack_env, "start", "--timeout", str(START_TIMEOUT_S))
    if outcome.code != 0:
        pytest.fail(f"`start` failed ({outcome.code}):\n{outcome.stderr}", pytrace=False)
    return outcome


def test_a_taken_port_is_reported_before_anything_starts(
    stack_env: StackEnv, tmp_path: Path
) -> None:
    project_name = f"{stack_env.settings['COMPOSE_PROJECT_NAME']}-taken"
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        # A copy of the stack's .env with ports of its own: the session's stack may be
        # holding its ports right now, and only the one taken here may be reported.
        values = settings.read_env_file(stack_env.env_file)
        values.update(
            COMPOSE_PROJECT_NAME=project_name,
            LITELLM_PORT=str(port),
            LANGFUSE_WEB_PORT=str(free_port()),
            MINIO_S3_PORT=str(free_port()),
            LLMOPS_TESTBED_BEDROCK_PORT=str(free_port()),
        )
        env_file = tmp_path / ".env"
        settings.write_env_file(env_file, settings.render_env(values))
        outcome = manage(replace(stack_env, env_file=env_file), "start")
    assert outcome.code == 1
    assert f"FAIL  host.ports               port 127.0.0.1:{port} (LITELLM_PORT) is held by " in (
        outcome.stderr
    )
    assert outcome.stderr.splitlines()[-1] == (
        "pre-flight found 1 problem(s); nothing was started"
    ), outcome.stderr
    assert containers_of(project_name) == []


def test_a_stopped_engine_is_reported_with_how_to_start_it(
    stack_env: StackEnv, tmp_path: Path
) -> None:
    dead = tmp_path / "docker.sock"
    outcome = manage(stack_env, "start", DOCKER_HOST=f"unix://{dead}")
    assert outcome.code == 1
    assert outcome.stderr.splitlines()[:2] == [
        "FAIL  host.docker              the Docker engine is not reachable: Cannot connect to "
        f"the Docker daemon at unix://{dead}. Is the docker daemon running?",
        " " * 31 + "fix: Start Docker: open Docker Desktop, or run `sudo systemctl start docker`, "
        "or start `sudo dockerd` by hand; if the engine runs elsewhere, set DOCKER_HOST.",
    ]


def test_start_ends_with_the_cline_settings(stack_env: StackEnv, started: Outcome) -> None:
    proxy_port = stack_env.settings["LITELLM_PORT"]
    assert f"│ Base URL     │ http://localhost:{proxy_port} " in started.stdout
    assert stack_env.settings["LITELLM_MASTER_KEY"] not in started.stdout + started.stderr


def test_status_after_start_reports_every_service_healthy(
    stack_env: StackEnv, started: Outcome
) -> None:
    outcome = manage(stack_env, "status")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    rows = [line for line in outcome.stdout.splitlines() if line.startswith("│ ")]
    services = stack_env.project.services()
    assert sorted(row.split("│")[1].strip() for row in rows) == sorted(services)
    assert all(row.split("│")[3].strip() == "healthy" for row in rows)
    proxy_port = stack_env.settings["LITELLM_PORT"]
    assert f"127.0.0.1:{proxy_port}->4000/tcp" in outcome.stdout
    assert outcome.stderr.startswith("callback backlog: ")


def test_update_config_serves_a_model_added_to_the_config(
    stack_env: StackEnv, started: Outcome, original_config: str
) -> None:
    config = yaml.safe_load(original_config)
    added = {**config["model_list"][0], "model_name": "e2e-added-model"}
    added["model_info"] = {**added.get("model_info", {}), "id": "e2e-added-model"}
    config["model_list"].append(added)
    stack_env.config_file.write_text(yaml.safe_dump(config, sort_keys=False))

    outcome = manage(stack_env, "update-config")

    assert outcome.code == 0, outcome.stderr
    models = httpx.get(
        f"{stack_env.proxy_url}/v1/models",
        headers={"Authorization": f"Bearer {stack_env.settings['LITELLM_MASTER_KEY']}"},
        timeout=30,
    ).json()
    assert "e2e-added-model" in [model["id"] for model in models["data"]]


def test_an_invalid_config_is_refused_and_the_proxy_is_not_restarted(
    stack_env: StackEnv, started: Outcome
) -> None:
    proxy = container_name(stack_env, "litellm")
    before = inspect(proxy)
    stack_env.config_file.write_text("model_list:\n  - model_name: [unclosed\n")

    outcome = manage(stack_env, "update-config")

    assert outcome.code == 1
    assert outcome.stderr.splitlines()[0] == (
        f"Error: {stack_env.config_file} is not valid YAML at line 3"
    )
    assert inspect(proxy) == before


def test_restart_of_one_service_brings_it_back_healthy(
    stack_env: StackEnv, started: Outcome
) -> None:
    redis = container_name(stack_env, "redis")
    _, started_at = inspect(redis)

    outcome = manage(stack_env, "restart", "redis")

    assert outcome.code == 0, outcome.stderr
    assert inspect(redis)[1] != started_at
    assert outcome.stderr.splitlines()[-1] == "OK restarted redis; healthy"


def test_stop_leaves_every_container_stopped_and_status_exits_1(
    stack_env: StackEnv, started: Outcome
) -> None:
    outcome = manage(stack_env, "stop")
    assert outcome.code == 0, outcome.stderr
    states = {c.service: c.state for c in stack_env.project.ps()}
    assert set(states.values()) == {"exited"}
    assert manage(stack_env, "status").code == 1


def test_down_removes_the_containers_and_keeps_the_volumes(
    stack_env: StackEnv, started: Outcome
) -> None:
    project_name = stack_env.settings["COMPOSE_PROJECT_NAME"]
    outcome = manage(stack_env, "down")
    assert outcome.code == 0, outcome.stderr
    assert containers_of(project_name) == []
    assert len(volumes_of(project_name)) > 0
