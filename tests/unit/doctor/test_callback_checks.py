"""The callback's spool checks, on health reports as callbacks/spool_health.py writes them."""

from __future__ import annotations

from typing import Any

from llmops_kit.doctor import Status

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


def check(make_context: ContextFactory, check_id: str, **report: Any):  # type: ignore[no-untyped-def]
    ctx = make_context(native=True)
    ctx.remember("callback.spool", lambda: {**HEALTHY, **report})
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
