"""Running CLI commands in an isolated environment, for tests that compare exact output.

No colour (NO_COLOR=1), a fixed width (COLUMNS=100), a temporary working directory, none of
the kit's variables inherited from the machine, and `docker` replaced by the recording
stand-in. The console objects are rebuilt because they read NO_COLOR when created.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmops_kit import cli, console, settings
from tests.fakes.docker_cli import FakeDocker

COLUMNS = "100"
# Recorded from compose 2.40.3 (`ps --format json`), reduced to the fields the kit reads
# plus the ones that vary; the other fields only add width.
_PS_TEMPLATE = {
    "Command": '"sleep 300"',
    "CreatedAt": "2026-11-23 10:49:55 +0000 UTC",
    "ExitCode": 0,
    "Health": "",
    "ID": "f58f3c8762e0",
    "Image": "capture-standin:1",
    "Labels": "",
    "LocalVolumes": "0",
    "Mounts": "/usr",
    "Name": "",
    "Names": "",
    "Networks": "kit_default",
    "Ports": "",
    "Project": "kit",
    "Publishers": [],
    "RunningFor": "8 seconds ago",
    "Service": "",
    "Size": "0B",
    "State": "running",
    "Status": "Up 7 seconds",
}
SERVICES = (
    "litellm-postgres",
    "litellm",
    "minio",
    "postgres",
    "redis",
    "clickhouse",
    "langfuse-web",
    "langfuse-worker",
)


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


@dataclass
class Kit:
    """One isolated environment: its .env, its fake docker, and a way to run commands."""

    env_file: Path
    docker: FakeDocker
    monkeypatch: pytest.MonkeyPatch

    def run(self, *args: str, stdin: str | None = None) -> Outcome:
        result = CliRunner().invoke(cli.app, [*args, "--env-file", str(self.env_file)], input=stdin)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Outcome(result.exit_code, result.stdout, result.stderr)

    def settings(self) -> settings.Settings:
        return settings.load(self.env_file)

    def set(self, **values: str) -> None:
        """Set variables the way a user does: in the process environment."""
        for name, value in values.items():
            self.monkeypatch.setenv(name, value)

    def compose_calls(self, verb: str) -> list[list[str]]:
        return [c for c in self.docker.calls() if c[:1] == ["compose"] and verb in c]


def make_kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    for name in (*settings.BY_NAME, "LLMOPS_ENV_FILE", "LLMOPS_DEBUG", "CI", "DOCKER_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", COLUMNS)
    monkeypatch.setattr(console, "out", console._console(stderr=False))
    monkeypatch.setattr(console, "err", console._console(stderr=True))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return Kit(work / ".env", FakeDocker.install(tmp_path, monkeypatch), monkeypatch)


def ps_line(
    service: str,
    *,
    state: str = "running",
    health: str = "healthy",
    exit_code: int = 0,
    published: Sequence[tuple[str, int, int]] = (),
) -> str:
    """One `ps --format json` line for a container of `service`."""
    record = dict(_PS_TEMPLATE)
    record.update(
        Service=service,
        Name=f"kit-{service}-1",
        Names=f"kit-{service}-1",
        State=state,
        Health=health,
        ExitCode=exit_code,
        Publishers=[
            {"URL": host, "TargetPort": target, "PublishedPort": port, "Protocol": "tcp"}
            for host, port, target in published
        ],
    )
    return json.dumps(record)


def config_model(ports: dict[str, tuple[str, int, int]]) -> str:
    """A `config --format json` model with the services and their published ports."""
    services = {
        name: {
            "ports": [
                {
                    "mode": "ingress",
                    "host_ip": ports[name][0],
                    "target": ports[name][2],
                    "published": str(ports[name][1]),
                    "protocol": "tcp",
                }
            ]
            if name in ports
            else None
        }
        for name in SERVICES
    }
    return json.dumps({"name": "kit", "services": services})
