"""The health report `status` and `doctor` read from inside the proxy container."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import callbacks.spool_health
from callbacks import mapping
from callbacks.spool import Spool

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


def _spool_in(directory: Path, spans: int) -> None:
    spool = Spool(directory, max_bytes=10**9, shrink=mapping.without_bodies, settle_seconds=1.0)
    spool.append([span_row(number) for number in range(spans)])


def test_all_reports_every_spool_of_the_volume_orphaned_slots_included(tmp_path: Path) -> None:
    volume = tmp_path / "spool"
    _spool_in(volume, 1)  # written before slots existed
    _spool_in(volume / "replica-0", 2)
    (volume / "replica-1").mkdir()  # a replica that has not spooled yet
    _spool_in(volume / "replica-3", 3)  # left behind by a scale-down
    result = run_health("--all", str(volume))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    spans = {name: health["backlog_spans"] for name, health in report["spools"].items()}
    assert spans == {"spool.db": 1, "replica-0/spool.db": 2, "replica-3/spool.db": 3}
    assert report["unreadable"] == {}


def test_all_without_the_volume_fails_with_a_reason(tmp_path: Path) -> None:
    result = run_health("--all", str(tmp_path / "nothing-here"))
    assert result.returncode == 1
    assert "no spool volume" in result.stderr
    assert result.stdout == ""
