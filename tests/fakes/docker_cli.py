"""A stand-in for the `docker` CLI: answers from canned replies, records every call.

The kit only ever talks to Docker by running `docker ...`, so tests that must not depend on
an engine put this first on PATH. Replies are what the real CLI prints (captured from
docker 28 and compose 2.40.3): stdout, stderr and exit code, per rule.

    fake = FakeDocker.install(tmp_path, monkeypatch)
    fake.reply("info", stdout=..., stderr=..., exit=1)
    ... run the kit ...
    fake.calls()  # [["info", "--format", "{{json .}}"], ...]

A rule answers when its words appear in argv in the same order (other words may sit in
between, such as compose's -p/-f options). The last matching rule wins, so a test can
override a default. An unmatched call exits 1 with a message naming it, as docker does
for an unknown command.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

REPLIES_VARIABLE = "FAKE_DOCKER_REPLIES"
CALLS_VARIABLE = "FAKE_DOCKER_CALLS"
# Names of environment variables whose values each call records, separated by commas.
RECORD_VARIABLE = "FAKE_DOCKER_RECORD_ENV"


def _matches(words: list[str], argv: list[str]) -> bool:
    remaining = iter(argv)
    return all(word in remaining for word in words)


def main(argv: list[str]) -> int:
    names = [n for n in os.environ.get(RECORD_VARIABLE, "").split(",") if n]
    call = {"argv": argv, "env": {name: os.environ.get(name) for name in names}}
    with open(os.environ[CALLS_VARIABLE], "a", encoding="utf-8") as calls:
        calls.write(json.dumps(call) + "\n")
    rules = json.loads(Path(os.environ[REPLIES_VARIABLE]).read_text(encoding="utf-8"))
    for rule in reversed(rules):
        if _matches(rule["when"], argv):
            sys.stdout.write(rule["stdout"])
            sys.stderr.write(rule["stderr"])
            return int(rule["exit"])
    sys.stderr.write(f"fake docker: no reply for {' '.join(argv)}\n")
    return 1


@dataclass
class FakeDocker:
    """The test's handle: add replies, read the calls."""

    replies_path: Path
    calls_path: Path

    @classmethod
    def install(cls, directory: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
        """Put a `docker` that runs this module first on PATH (for this test only)."""
        bin_dir = directory / "fake-docker-bin"
        bin_dir.mkdir()
        shim = bin_dir / "docker"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__)}" "$@"\n')
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        fake = cls(directory / "docker-replies.json", directory / "docker-calls.jsonl")
        fake.replies_path.write_text("[]")
        fake.calls_path.touch()
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        monkeypatch.setenv(REPLIES_VARIABLE, str(fake.replies_path))
        monkeypatch.setenv(CALLS_VARIABLE, str(fake.calls_path))
        return fake

    def reply(self, *when: str, stdout: str = "", stderr: str = "", exit: int = 0) -> None:
        rules: list[dict[str, Any]] = json.loads(self.replies_path.read_text())
        rules.append({"when": list(when), "stdout": stdout, "stderr": stderr, "exit": exit})
        self.replies_path.write_text(json.dumps(rules))

    def calls(self) -> list[list[str]]:
        return [call["argv"] for call in self._records()]

    def environments(self) -> list[dict[str, str | None]]:
        """Per call, the variables named in FAKE_DOCKER_RECORD_ENV as the call saw them."""
        return [call["env"] for call in self._records()]

    def _records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.calls_path.read_text().splitlines()]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
