"""The fault catalogue's container faults, injected into the Docker test bed, fixed as printed.

The production compose files with the stand-in overlay (one stack for the session). Each test
breaks one thing, checks that doctor names its cause and fix, applies the fix exactly as
printed, and leaves the stack healthy for the next test. Faults that need no container (keys,
ports, credentials, the config, the spool) are in tests/integration/test_doctor_native.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from llmops_kit.doctor import CHECKS, DoctorContext, DoctorOptions, Finding, Status, run_checks
from llmops_kit.errors import KitError
from llmops_kit.settings import REPO_ROOT
from tests.e2e.stack import StackEnv
from tests.fakes.sts import running_moto_sts

UP_TIMEOUT_S = 240
COMMAND_TIMEOUT_S = 400
STACK_LANGFUSE_HOST = "http://langfuse-web:3000"


@pytest.fixture(scope="module")
def sts_url() -> Iterator[str]:
    with running_moto_sts() as url:
        yield url


@pytest.fixture(scope="module")
def stack(stack_env: StackEnv) -> StackEnv:
    try:
        stack_env.project.run(
            ["up", "--detach", "--wait", "--wait-timeout", str(UP_TIMEOUT_S)],
            timeout=UP_TIMEOUT_S + 60,
        )
    except KitError as error:
        pytest.fail(f"the test bed did not come up: {error}")
    return stack_env


def doctor_environ(stack: StackEnv, sts_url: str) -> dict[str, str]:
    """Doctor on the host: STS at moto, Bedrock at the stand-in's published port."""
    return {
        **user_environ(),
        "AWS_ENDPOINT_URL_STS": sts_url,
        "AWS_BEDROCK_RUNTIME_ENDPOINT": stack.bedrock_url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def diagnose(stack: StackEnv, sts_url: str, *check_ids: str) -> dict[str, Finding]:
    ctx = DoctorContext(DoctorOptions(stack.env_file), environ=doctor_environ(stack, sts_url))
    try:
        return {f.id: f for f in run_checks(ctx, [c for c in CHECKS if c.id in check_ids])}
    finally:
        ctx.close()


def user_environ() -> dict[str, str]:
    """A user's shell: settings come from the stack's .env only, this venv's python first."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LANGFUSE_"))}
    return {**kept, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def run_fix(command: str) -> None:
    """Run a printed command as a user pastes it, from the repository.

    Not with doctor's environment: its host-side Bedrock URL would win over .env in a
    recreated proxy container, where that address means nothing.
    """
    subprocess.run(
        ["bash", "-c", command],
        cwd=REPO_ROOT,
        env=user_environ(),
        check=True,
        timeout=COMMAND_TIMEOUT_S,
    )


def first_command(fix: str) -> str:
    """`CMD (why it failed: CMD2)` -> `CMD`."""
    return fix.split(" (", 1)[0]


def set_line(path: Path, name: str, value: str) -> None:
    lines = [line for line in path.read_text().splitlines() if not line.startswith(f"{name}=")]
    path.write_text("\n".join([*lines, f"{name}={value}"]) + "\n")


def test_a_healthy_stack_gives_exit_0(stack: StackEnv, sts_url: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "manage_langfuse.py",
            "doctor",
            "--json",
            "--env-file",
            str(stack.env_file),
        ],
        cwd=REPO_ROOT,
        env=doctor_environ(stack, sts_url),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    report = json.loads(done.stdout)
    failed = [f for f in report["findings"] if f["status"] == "FAIL"]
    assert done.returncode == 0, failed or done.stderr
    ran = {f["id"] for f in report["findings"] if f["status"] == "OK"}
    assert {"containers.state", "network.langfuse_http", "langfuse.redis"} <= ran
    assert {"callback.import", "bedrock.model_access", "litellm.master_key"} <= ran
    settings = stack.settings
    for name in ("LITELLM_MASTER_KEY", "LANGFUSE_SECRET_KEY", "REDIS_AUTH"):
        assert settings[name] not in done.stdout + done.stderr


def test_langfuse_host_localhost_inside_the_proxy_container_is_named_and_fixed(
    stack: StackEnv, sts_url: str
) -> None:
    update = f"python manage_langfuse.py update-config --env-file {stack.env_file}"
    set_line(stack.env_file, "LANGFUSE_HOST", "http://localhost:3000")
    try:
        run_fix(update)
        findings = diagnose(stack, sts_url, "network.langfuse_host", "network.dns")
        finding = findings["network.langfuse_host"]
        assert finding.status is Status.FAIL
        assert "LANGFUSE_HOST=http://localhost:3000 inside the litellm container" in finding.message
        assert "localhost is the container itself" in finding.message
        assert findings["network.dns"].status is Status.SKIP
        fix = re.fullmatch(r"In (\S+) set (LANGFUSE_HOST)=(\S+), then (.+)", finding.fix)
        assert fix is not None, finding.fix
        assert (fix[1], fix[3], fix[4]) == (str(stack.env_file), STACK_LANGFUSE_HOST, update)
        set_line(Path(fix[1]), fix[2], fix[3])
        run_fix(fix[4])
    finally:
        if "localhost" in stack.env_file.read_text():
            set_line(stack.env_file, "LANGFUSE_HOST", STACK_LANGFUSE_HOST)
            run_fix(update)
    after = diagnose(
        stack, sts_url, "network.langfuse_host", "network.dns", "network.langfuse_http"
    )
    assert {f.status for f in after.values()} == {Status.OK}, after


@pytest.mark.parametrize("store", ["redis", "clickhouse"])
def test_a_backing_store_down_is_named_and_the_printed_restart_fixes_it(
    stack: StackEnv, sts_url: str, store: str
) -> None:
    stack.project.stop([store])
    try:
        finding = diagnose(stack, sts_url, f"langfuse.{store}")[f"langfuse.{store}"]
        assert finding.status is Status.FAIL
        assert f"{store} is exited" in finding.message
        assert "Langfuse cannot work without" in finding.message
        command = first_command(finding.fix)
        assert command == f"python manage_langfuse.py restart {store} --env-file {stack.env_file}"
        run_fix(command)
    finally:
        stack.project.up([store])
    assert diagnose(stack, sts_url, f"langfuse.{store}")[f"langfuse.{store}"].status is Status.OK


def test_langfuse_web_down_is_named_from_both_sides_and_restarting_it_fixes_it(
    stack: StackEnv, sts_url: str
) -> None:
    checks = ("langfuse.web", "network.langfuse_host", "network.dns", "network.langfuse_http")
    stack.project.stop(["langfuse-web"])
    try:
        findings = diagnose(stack, sts_url, *checks)
        web = findings["langfuse.web"]
        assert web.status is Status.FAIL
        assert f"cannot reach Langfuse at {stack.web_url}" in web.message
        inside = findings["network.dns"]
        assert inside.status is Status.FAIL, findings
        assert (
            "'langfuse-web' does not resolve inside the litellm container: its container is "
            in (inside.message)
        )
        assert first_command(inside.fix) == first_command(web.fix)
        command = first_command(web.fix)
        assert (
            command == f"python manage_langfuse.py restart langfuse-web --env-file {stack.env_file}"
        )
        run_fix(command)
    finally:
        stack.project.up(["langfuse-web"])
    after = diagnose(stack, sts_url, *checks)
    assert {f.status for f in after.values()} == {Status.OK}, after


def test_the_test_command_passes_against_the_test_bed(stack: StackEnv) -> None:
    model = yaml.safe_load(stack.config_file.read_text())["model_list"][0]["model_name"]
    done = subprocess.run(
        [
            sys.executable,
            "manage_langfuse.py",
            "test",
            "--env-file",
            str(stack.env_file),
            "--models",
            model,
            "--timeout",
            "90",
        ],
        cwd=REPO_ROOT,
        env=user_environ(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 of 2 requests traced correctly" in done.stdout
