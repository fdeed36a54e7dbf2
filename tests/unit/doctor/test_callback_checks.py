"""The callback's spool checks, on health reports as callbacks/spool_health.py writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from callbacks import mapping
from callbacks.spool import Spool
from llmops_kit.doctor import Status
from tests.fakes.docker_cli import FakeDocker
from tests.unit.callbacks.doubles import span_row

from .conftest import ContextFactory, run_check

HEALTHY = {
    "backlog_spans": 0,
    "delivered": 10,
    "dropped_spans": 0,
    "dropped_events": 0,
    "in_doubt_spans": 0,
    "in_doubt_check_error": None,
    "last_error": None,
    "last_error_age_seconds": None,
    "last_delivery_age_seconds": 5.0,
}


def volume(**spools: dict[str, Any]) -> dict[str, Any]:
    """What `spool_health.py --all` reports: each spool (`replica_0=...`) over HEALTHY."""
    reports = {f"{name.replace('_', '-')}/spool.db": {**HEALTHY, **r} for name, r in spools.items()}
    return {"spools": reports, "unreadable": {}}


def check(make_context: ContextFactory, check_id: str, **report: Any):  # type: ignore[no-untyped-def]
    ctx = make_context(native=True)
    ctx.remember("callback.spool", lambda: volume(replica_0=report))
    return run_check(ctx, check_id)


def check_volume(make_context: ContextFactory, check_id: str, report: dict[str, Any]):  # type: ignore[no-untyped-def]
    ctx = make_context(native=True)
    ctx.remember("callback.spool", lambda: report)
    return run_check(ctx, check_id)


def test_spans_waiting_for_the_read_api_are_a_warning_with_its_reason(make_context) -> None:
    finding = check(
        make_context,
        "callback.delivery",
        backlog_spans=3,
        in_doubt_spans=2,
        in_doubt_oldest_age_seconds=300.0,
        in_doubt_check_error="read API answered HTTP 500",
    )
    assert finding.status is Status.WARN
    assert "2 spans sent without an answer have waited 5 min" in finding.message
    assert "read API answered HTTP 500" in finding.message
    assert "new traces keep flowing" in finding.message
    assert "/api/public/v2/observations" in finding.fix


def test_requests_never_traced_fail_the_spool_check(make_context) -> None:
    finding = check(make_context, "callback.spool", dropped_events=4)
    assert finding.status is Status.FAIL
    assert finding.message.startswith("4 requests were never traced")


def test_a_spool_that_delivers_is_ok(make_context) -> None:
    assert check(make_context, "callback.delivery").status is Status.OK
    assert check(make_context, "callback.spool").status is Status.OK


def test_an_old_backlog_in_an_orphaned_slot_warns_though_the_first_replica_is_empty(
    make_context: ContextFactory,
) -> None:
    report = volume(
        replica_0={},
        replica_1={"backlog_spans": 2, "oldest_age_seconds": 30.0},
        replica_3={"backlog_spans": 5, "oldest_age_seconds": 600.0},
    )
    finding = check_volume(make_context, "callback.spool", report)
    assert finding.status is Status.WARN
    assert finding.message == (
        "7 spans waiting in replica-1/spool.db, replica-3/spool.db, the oldest for 10 min"
    )


def test_spans_dropped_in_any_slot_fail_the_spool_check(make_context: ContextFactory) -> None:
    report = volume(replica_0={}, replica_2={"dropped_spans": 3})
    finding = check_volume(make_context, "callback.spool", report)
    assert finding.status is Status.FAIL
    assert finding.message.startswith("the spool dropped 3 spans")


def test_a_slot_that_cannot_deliver_fails_and_is_named(make_context: ContextFactory) -> None:
    failing = {
        "backlog_spans": 4,
        "oldest_age_seconds": 300.0,
        "last_error": "HTTP 503 from Langfuse",
        "last_error_age_seconds": 10.0,
        "last_delivery_age_seconds": 400.0,
    }
    finding = check_volume(
        make_context, "callback.delivery", volume(replica_0={}, replica_2=failing)
    )
    assert finding.status is Status.FAIL
    assert finding.message.startswith("replica-2/spool.db: 4 spans wait for Langfuse")


def test_a_spool_that_cannot_be_read_is_a_warning_that_names_it(
    make_context: ContextFactory,
) -> None:
    report = volume(replica_0={})
    report["unreadable"] = {"replica-1/spool.db": "database disk image is malformed"}
    finding = check_volume(make_context, "callback.spool", report)
    assert finding.status is Status.WARN
    assert "cannot read replica-1/spool.db: database disk image is malformed" in finding.message


def test_the_native_spool_is_read_from_its_directory(
    make_context: ContextFactory, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir, max_bytes=10**9, shrink=mapping.without_bodies, settle_seconds=1.0)
    spool.append([span_row(1), span_row(2)])
    ctx = make_context(native=True, environ={"LLMOPS_SPOOL_DIR": str(spool_dir)})
    finding = run_check(ctx, "callback.spool")
    assert finding.status is Status.OK
    assert finding.message == "2 spans waiting; 0 delivered since the spool was created"


def test_in_the_stack_every_slot_is_read_in_one_exec(
    make_context: ContextFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker = FakeDocker.install(tmp_path, monkeypatch)
    report = volume(replica_0={}, replica_1={"backlog_spans": 3, "oldest_age_seconds": 5.0})
    docker.reply("compose", "exec", "litellm", "--all", stdout=json.dumps(report) + "\n")
    finding = run_check(make_context(), "callback.spool")
    assert finding.message == (
        "3 spans waiting in replica-1/spool.db; 20 delivered since the 2 spools were created"
    )
    [call] = [c for c in docker.calls() if "exec" in c]
    assert call[-3:] == ["python3", "/app/config/callbacks/spool_health.py", "--all"]
