"""scripts/debug_langfuse.sh and scripts/port-forward.sh, run as a user runs them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.unit.doctor.conftest import REPO_ROOT

SCRIPTS = REPO_ROOT / "scripts"
PORT_FORWARD = SCRIPTS / "port-forward.sh"


def run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("name", ["debug_langfuse.sh", "port-forward.sh"])
def test_the_script_parses_with_bash_n(name: str) -> None:
    done = subprocess.run(["bash", "-n", str(SCRIPTS / name)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_port_forward_help_names_every_forward() -> None:
    done = run(PORT_FORWARD, "--help")
    assert done.returncode == 0
    for line in ("Langfuse web   3000 -> 3000", "LiteLLM proxy  4000 -> 4000", "code-server"):
        assert line in done.stdout


def test_port_forward_builds_loopback_forwards_for_all_three_ports() -> None:
    done = run(PORT_FORWARD, "--print", "--proxy", "14000:4000", "-i", "key.pem", "me@vm")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "ssh",
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "ServerAliveInterval=30",
        "-L",
        "127.0.0.1:3000:127.0.0.1:3000",
        "-L",
        "127.0.0.1:14000:127.0.0.1:4000",
        "-L",
        "127.0.0.1:8080:127.0.0.1:8080",
        "-i",
        "key.pem",
        "me@vm",
    ]


def test_port_forward_can_leave_code_server_out() -> None:
    done = run(PORT_FORWARD, "--print", "--no-code-server", "vm")
    assert "8080" not in done.stdout


def test_port_forward_without_a_host_shows_usage_and_exits_2() -> None:
    done = run(PORT_FORWARD)
    assert done.returncode == 2
    assert done.stderr.startswith("Usage: scripts/port-forward.sh")


def test_port_forward_refuses_a_port_that_is_not_one() -> None:
    done = run(PORT_FORWARD, "--proxy", "70000", "vm")
    assert done.returncode == 2
    assert "'70000' is not PORT or LOCAL:REMOTE" in done.stderr


def test_debug_script_is_doctor() -> None:
    done = run(SCRIPTS / "debug_langfuse.sh", "--help")
    assert done.returncode == 0, done.stderr
    assert "--no-bedrock-calls" in done.stdout
    assert "--native" in done.stdout
