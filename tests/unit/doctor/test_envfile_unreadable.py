"""A `.env` that is not UTF-8 text: `env.file` names the cause, and no check crashes on it."""

from __future__ import annotations

from pathlib import Path

from llmops_kit.doctor import Status
from tests.unit.doctor.conftest import ContextFactory, run_check


def test_an_env_that_is_not_utf8_fails_env_file_with_the_line_and_nothing_crashes(
    env_path: Path, make_context: ContextFactory
) -> None:
    env_path.write_bytes(env_path.read_bytes() + b"EXTRA=caf\xe9-s3cr3t\n")
    ctx = make_context()

    finding = run_check(ctx, "env.file")

    assert finding.status is Status.FAIL
    assert "is not UTF-8 text: line" in finding.message
    assert "s3cr3t" not in finding.message
    for check_id in ("env.quotes", "env.shapes"):
        assert "crashed" not in run_check(ctx, check_id).message, check_id
