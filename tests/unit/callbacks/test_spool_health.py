"""The health report `status` and `doctor` read from inside the proxy container."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import callbacks.spool_health

from .doubles import span_row

HEALTH_SCRIPT = Path(callbacks.spool_health.__file__)


def run_health(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTH_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
    )


def test_the_script_prints_the_backlog_as_json(spool) -> None:
    spool.append([span_row(1), span_row(2)])
    spool.count_failure("HTTP 503 from Langfuse")
    result = run_health(str(spool.path.parent))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["backlog_spans"] == 2
    assert report["export_failures"] == 1
    assert report["last_error"] == "HTTP 503 from Langfuse"
    assert report["oldest_age_seconds"] is not None


def test_without_a_spool_the_script_fails_with_a_reason(tmp_path: Path) -> None:
    result = run_health(str(tmp_path / "nothing-here"))
    assert result.returncode == 1
    assert "no spool" in result.stderr
    assert result.stdout == ""
