"""`start`: pre-flight failures stop it before anything starts; success prints where to go.

The pre-flight is a subset of doctor's checks, printed as doctor prints them. Docker is the
recording stand-in answering with what the real CLI prints; ports, the .env file and
litellm_config.yml are real.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from llmops_kit import compose, settings
from llmops_kit.doctor import CHECKS, DoctorContext, DoctorOptions
from llmops_kit.doctor.report import finding_lines
from tests.unit.cli_harness import SERVICES, Kit, config_model, make_kit, ps_line

DEAD_ENGINE = (
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
    "Is the docker daemon running?\n"
)
GIB = 1024**3
FIX = " " * 31 + "fix: "  # where doctor's text output puts a finding's fix
FINDINGS = ("OK    ", "WARN  ", "FAIL  ", "SKIP  ")  # how doctor's finding lines begin


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stack_kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    """A kit with a fresh .env on free ports, a healthy engine with room, compose v2, and no
    container yet: what `start` meets on a new machine."""
    kit = make_kit(tmp_path, monkeypatch)
    kit.set(
        COMPOSE_PROJECT_NAME="kit",
        LANGFUSE_WEB_PORT=str(free_port()),
        LITELLM_PORT=str(free_port()),
        MINIO_S3_PORT=str(free_port()),
    )
    settings.init_env(kit.env_file)
    data_root = tmp_path / "docker-data"
    data_root.mkdir()
    engine_info(kit, memory=8 * GIB, data_root=data_root)
    kit.docker.reply("compose", "version", "--short", stdout="2.40.3\n")
    kit.docker.reply("compose", "ps", stdout="")
    return kit


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    kit = stack_kit(tmp_path, monkeypatch)
    kit.docker.reply("compose", "config", "--format", "json", stdout=config_model(ports(kit)))
    kit.docker.reply("compose", "config", "--services", stdout="\n".join(SERVICES) + "\n")
    kit.docker.reply("compose", "up")
    return kit


def engine_info(kit: Kit, *, memory: int, data_root: Path) -> None:
    info = {"ServerVersion": "20.10.24+dfsg1", "MemTotal": memory, "DockerRootDir": str(data_root)}
    kit.docker.reply("info", stdout=json.dumps(info) + "\n")


def ports(kit: Kit) -> dict[str, tuple[str, int, int]]:
    resolved = kit.settings()
    return {
        "langfuse-web": ("127.0.0.1", int(resolved["LANGFUSE_WEB_PORT"]), 3000),
        "litellm": ("127.0.0.1", int(resolved["LITELLM_PORT"]), 4000),
        "minio": ("127.0.0.1", int(resolved["MINIO_S3_PORT"]), 9000),
    }


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held


def this_process() -> str:
    return f"{Path('/proc/self/comm').read_text().strip()} (pid {os.getpid()})"


def problems(stderr: str) -> list[str]:
    """The pre-flight findings that need action (FAIL or WARN, each with its fix line), and
    the line after them; OK and SKIP lines only report what was measured."""
    lines = stderr.splitlines()
    kept, keep = [], False
    for line in lines:
        if line.startswith(FINDINGS):
            keep = line.startswith(("FAIL  ", "WARN  "))
        elif not line.startswith(FIX):
            keep = True
        if keep:
            kept.append(line)
    return kept


def test_an_unreachable_engine_is_reported_with_how_to_start_it(kit: Kit) -> None:
    kit.docker.reply("info", stdout='{"ID":"","ServerVersion":""}\n', stderr=DEAD_ENGINE, exit=1)
    outcome = kit.run("start")
    assert outcome.code == 1
    assert problems(outcome.stderr) == [
        "FAIL  host.docker              the Docker engine is not reachable: Cannot connect to "
        "the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
        f"{FIX}{compose.ENGINE_FIX}",
        "pre-flight found 1 problem(s); nothing was started",
    ]
    assert "SKIP  host.memory              skipped because host.docker failed; fix that first" in (
        outcome.stderr.splitlines()
    )
    assert kit.compose_calls("up") == []


def test_a_taken_port_is_reported_with_its_holder_before_anything_starts(
    kit: Kit, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    kit.set(LITELLM_PORT=str(port))
    kit.docker.reply("compose", "config", "--format", "json", stdout=config_model(ports(kit)))
    outcome = kit.run("start")
    assert outcome.code == 1
    first, fix, last = problems(outcome.stderr)
    assert first == (
        f"FAIL  host.ports               port 127.0.0.1:{port} (LITELLM_PORT) is held by "
        f"{this_process()}, which does not answer like the LiteLLM proxy"
    )
    assert fix.startswith(f"{FIX}In {kit.env_file} set LITELLM_PORT=")
    assert fix.endswith(f"; or stop {this_process()}: `kill {os.getpid()}`")
    assert last == "pre-flight found 1 problem(s); nothing was started"
    assert kit.compose_calls("up") == []


def test_too_little_memory_is_reported_with_what_was_measured(kit: Kit, tmp_path: Path) -> None:
    engine_info(kit, memory=2 * GIB, data_root=tmp_path)
    outcome = kit.run("start")
    assert problems(outcome.stderr)[:2] == [
        "FAIL  host.memory              Docker has 2.0 GiB of memory; Langfuse needs at least "
        "4 GiB",
        f"{FIX}Give Docker more memory (Docker Desktop: Settings > Resources) or use a larger "
        "machine.",
    ]
    assert outcome.code == 1


def test_an_invalid_litellm_config_is_reported_before_anything_starts(
    kit: Kit, tmp_path: Path
) -> None:
    config = tmp_path / "broken.yml"
    config.write_text("model_list:\n  - model_name: [unclosed\n")
    kit.set(LLMOPS_LITELLM_CONFIG=str(config))
    outcome = kit.run("start")
    assert problems(outcome.stderr) == [
        f"FAIL  litellm.config           {config} is not valid YAML at line 3",
        f"{FIX}Correct the indentation or quoting there.",
        "pre-flight found 1 problem(s); nothing was started",
    ]
    assert kit.compose_calls("up") == []


def test_compose_files_that_do_not_resolve_are_reported(kit: Kit) -> None:
    kit.docker.reply(
        "compose",
        "config",
        "--format",
        "json",
        stderr="required variable SALT is missing a value: is not set; "
        "run python manage_langfuse.py init\n",
        exit=15,
    )
    outcome = kit.run("start")
    assert problems(outcome.stderr)[:2] == [
        "FAIL  host.compose_config      compose cannot resolve the stack: required variable SALT "
        "is missing a value: is not set; run python manage_langfuse.py init",
        f"{FIX}Run `python manage_langfuse.py init`, then correct what the line names.",
    ]


def test_every_problem_is_reported_at_once(
    kit: Kit, listener: socket.socket, tmp_path: Path
) -> None:
    kit.docker.reply("info", stdout='{"ID":"","ServerVersion":""}\n', stderr=DEAD_ENGINE, exit=1)
    port = listener.getsockname()[1]
    kit.set(LANGFUSE_WEB_PORT=str(port), AWS_REGION="eu-west-1")
    kit.docker.reply("compose", "config", "--format", "json", stdout=config_model(ports(kit)))
    outcome = kit.run("start")
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("FAIL ")]
    assert len(errors) == 3
    assert errors[0].startswith("FAIL  host.docker              the Docker engine is not reachable")
    assert errors[1].startswith(
        f"FAIL  host.ports               port 127.0.0.1:{port} (LANGFUSE_WEB_PORT) is held by "
    )
    assert errors[2].startswith(
        "FAIL  litellm.config           BEDROCK_PROFILE_PREFIX=us serves us-*"
    )
    assert outcome.stderr.splitlines()[-1] == "pre-flight found 3 problem(s); nothing was started"


class Usage(NamedTuple):
    total: int
    used: int
    free: int


def free_disk(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(100 * GIB, 100 * GIB - free, free))


def doctor_says(kit: Kit, check_id: str) -> list[str]:
    """What doctor prints for one of its checks, on the same `.env` and the same Docker."""
    (check,) = [c for c in CHECKS if c.id == check_id]
    ctx = DoctorContext(DoctorOptions(env_path=kit.env_file))
    try:
        return finding_lines(check.run(ctx, {}))
    finally:
        ctx.close()


def test_start_and_doctor_refuse_a_nearly_full_disk_with_the_same_verdict_and_fix(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    free_disk(monkeypatch, GIB)
    doctor = doctor_says(kit, "host.disk")
    assert doctor[0].startswith("FAIL  host.disk                1.0 GiB free on ")
    outcome = kit.run("start")
    assert outcome.code == 1
    assert problems(outcome.stderr) == [
        *doctor,
        "pre-flight found 1 problem(s); nothing was started",
    ]
    assert kit.compose_calls("up") == []


def test_start_warns_about_low_disk_as_doctor_does_and_goes_on(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    free_disk(monkeypatch, 6 * GIB)
    kit.docker.reply("compose", "ps", stdout="\n".join(ps_line(s) for s in SERVICES) + "\n")
    doctor = doctor_says(kit, "host.disk")
    assert doctor[0].startswith("WARN  host.disk                6.0 GiB free on ")
    outcome = kit.run("start")
    assert outcome.code == 0
    assert problems(outcome.stderr)[:3] == [*doctor, "OK pre-flight passed"]
    assert kit.compose_calls("up")[0][-2:] == ["up", "--detach"]


def test_start_writes_env_first_when_there_is_none(kit: Kit) -> None:
    kit.env_file.unlink()
    kit.docker.reply("info", stdout='{"ID":"","ServerVersion":""}\n', stderr=DEAD_ENGINE, exit=1)
    outcome = kit.run("start")
    first = outcome.stderr.splitlines()[0]
    assert first.startswith(f"OK no .env yet: wrote {kit.env_file} (mode 0600), ")
    assert (kit.env_file.stat().st_mode & 0o777) == 0o600


TWO_ROUTES = """\
model_list:
  - model_name: claude-sonnet-4-6
    litellm_params:
      model: bedrock/converse/${BEDROCK_PROFILE_PREFIX}.anthropic.claude-sonnet-4-6
      aws_region_name: os.environ/AWS_REGION
  - model_name: claude-haiku-4-5
    litellm_params:
      model: bedrock/converse/${BEDROCK_PROFILE_PREFIX}.anthropic.claude-haiku-4-5-20251001-v1:0
      aws_region_name: os.environ/AWS_REGION
"""


def test_start_brings_the_stack_up_then_says_where_everything_is(kit: Kit, tmp_path: Path) -> None:
    config = tmp_path / "litellm_config.yml"
    config.write_text(TWO_ROUTES)
    kit.set(LLMOPS_LITELLM_CONFIG=str(config))
    kit.docker.reply("compose", "up", stderr=" Container kit-redis-1  Started\n")
    kit.docker.reply("compose", "ps", stdout="\n".join(ps_line(s) for s in SERVICES) + "\n")
    outcome = kit.run("start")
    resolved = kit.settings()
    key = resolved["LITELLM_MASTER_KEY"]
    assert outcome.code == 0
    assert kit.compose_calls("up")[0][-2:] == ["up", "--detach"]
    assert outcome.stdout == EXPECTED_SUMMARY.format(
        web=resolved["LANGFUSE_WEB_PORT"], proxy=resolved["LITELLM_PORT"], key_end=key[-4:]
    ) + EXPECTED_OPEN_WEBUI.format(proxy=resolved["LITELLM_PORT"])


def test_with_the_repository_config_claude_code_needs_only_url_and_token(kit: Kit) -> None:
    kit.docker.reply("compose", "ps", stdout="\n".join(ps_line(s) for s in SERVICES) + "\n")
    outcome = kit.run("start")
    port = kit.settings()["LITELLM_PORT"]
    assert outcome.code == 0
    lines = outcome.stdout.splitlines()
    first = lines.index(
        "Claude Code: in its environment (your shell, or `env` in ~/.claude/settings.json)"
    )
    assert lines[first + 1 : first + 3] == [
        f"  export ANTHROPIC_BASE_URL=http://localhost:{port}",
        "  export ANTHROPIC_AUTH_TOKEN=\"$(sed -n 's/^LITELLM_MASTER_KEY=//p' .env)\"",
    ]


def test_the_printed_token_command_reads_the_master_key_from_env(kit: Kit) -> None:
    kit.docker.reply("compose", "ps", stdout="\n".join(ps_line(s) for s in SERVICES) + "\n")
    lines = kit.run("start").stdout.splitlines()
    (line,) = [line for line in lines if line.startswith("  export ANTHROPIC_AUTH_TOKEN=")]
    command = line.split('"$(', 1)[1].rsplit(')"', 1)[0]
    done = subprocess.run(
        ["bash", "-c", command], cwd=Path.cwd(), capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == kit.settings()["LITELLM_MASTER_KEY"]


def test_start_never_prints_the_key_or_the_password(kit: Kit) -> None:
    kit.docker.reply("compose", "ps", stdout="\n".join(ps_line(s) for s in SERVICES) + "\n")
    outcome = kit.run("start")
    resolved = kit.settings()
    assert outcome.code == 0
    for secret in ("LITELLM_MASTER_KEY", "LANGFUSE_INIT_USER_PASSWORD"):
        assert resolved[secret] not in outcome.stdout + outcome.stderr


def test_start_fails_with_the_last_logs_when_health_is_not_reached(kit: Kit) -> None:
    lines = [ps_line(s) for s in SERVICES if s != "litellm"]
    lines.append(ps_line("litellm", state="restarting", health=""))
    kit.docker.reply("compose", "ps", stdout="\n".join(lines) + "\n")
    kit.docker.reply("compose", "logs", stdout="litellm-1  | Exception: no config\n")
    outcome = kit.run("start", "--timeout", "1")
    assert outcome.code == 1
    assert outcome.stderr.splitlines()[-4:] == [
        "Error: not healthy after 1 s: litellm (restarting)",
        "  last 20 log lines of litellm:",
        "    litellm-1  | Exception: no config",
        "  fix: Read the full log with `python manage_langfuse.py logs litellm`; a slow machine "
        "may need a longer --timeout.",
    ]


# Ephemeral ports always have five digits, so the table's width is fixed.
EXPECTED_SUMMARY = """\
The stack is up
┏━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ what           ┃ where                                        ┃
┡━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ Langfuse       │ http://localhost:{web}                       │
│   login e-mail │ admin@llmops.dev                             │
│   password     │ ***  (grep LANGFUSE_INIT_USER_PASSWORD .env) │
│ LiteLLM proxy  │ http://localhost:{proxy}                       │
└────────────────┴──────────────────────────────────────────────┘
Cline: Settings > API Configuration
┏━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ setting      ┃ value                                    ┃
┡━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ API Provider │ LiteLLM                                  │
│ Base URL     │ http://localhost:{proxy}                   │
│ API Key      │ sk-…{key_end}  (grep LITELLM_MASTER_KEY .env) │
│ Model ID     │ claude-sonnet-4-6                        │
│              │ claude-haiku-4-5                         │
└──────────────┴──────────────────────────────────────────┘
Claude Code: in its environment (your shell, or `env` in ~/.claude/settings.json)
  export ANTHROPIC_BASE_URL=http://localhost:{proxy}
  export ANTHROPIC_AUTH_TOKEN="$(sed -n 's/^LITELLM_MASTER_KEY=//p' .env)"
  export ANTHROPIC_MODEL=claude-sonnet-4-6
  export ANTHROPIC_DEFAULT_SONNET_MODEL=claude-sonnet-4-6
  export ANTHROPIC_DEFAULT_HAIKU_MODEL=claude-haiku-4-5
"""

EXPECTED_OPEN_WEBUI = """\
Open WebUI: Admin Settings > Connections > OpenAI > Add New Connection
┏━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ setting        ┃ value                                    ┃
┡━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ URL            │ http://localhost:{proxy}/v1                │
│ Key            │ a keys.yml key with forwards_users: true │
│ Open WebUI env │ ENABLE_FORWARD_USER_INFO_HEADERS=true    │
└────────────────┴──────────────────────────────────────────┘
"""
