"""The delivery worker against a scripted Langfuse and a clock the test moves (no sleeping)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from callbacks import mapping
from callbacks.exporter import OtlpIngestionClient, RetryPolicy
from callbacks.otlp import attribute_map
from callbacks.spool import COMPRESS_AFTER_SECONDS, SpanRow
from callbacks.worker import DeliveryWorker

from .doubles import ScriptedLangfuse, read_timeout, refused, span_row, status

SETTLE = 60.0
MAX_DOUBT = 600.0


@pytest.fixture
def langfuse() -> ScriptedLangfuse:
    return ScriptedLangfuse()


@pytest.fixture
def spool(make_spool):
    return make_spool(settle_seconds=SETTLE)


@pytest.fixture
def worker(spool, langfuse, clock) -> DeliveryWorker:
    client = OtlpIngestionClient(
        host="http://langfuse.test",
        public_key="pk-lf-test",
        secret_key="sk-lf-test",
        timeout=5,
        clock=clock,
        transport=langfuse.transport(),
    )
    return DeliveryWorker(
        spool,
        client,
        owner="worker-1",
        policy=RetryPolicy(initial=1, multiplier=2, maximum=60, jitter=0.5),
        shrink=mapping.smaller,
        lease_seconds=100,
        max_doubt_seconds=MAX_DOUBT,
        clock=clock,
        rng=lambda: 0.0,
    )


def exports(langfuse: ScriptedLangfuse) -> int:
    return len(langfuse.exported_batches())


def test_spans_leave_the_spool_only_once_langfuse_accepted_them(
    worker, spool, langfuse, clock
) -> None:
    langfuse.exports = [status(503)]
    spool.append([span_row(1), span_row(2)])
    worker.run_once()
    assert spool.health()["backlog_spans"] == 2
    clock.advance(1)
    worker.run_once()
    assert spool.health()["backlog_spans"] == 0
    assert spool.health()["delivered"] == 2


def test_consecutive_failures_back_off_exponentially(worker, spool, langfuse, clock) -> None:
    langfuse.exports = [status(503), refused, status(429), status(503)]
    spool.append([span_row(1)])
    waits = []
    for _ in range(4):
        waits.append(worker.run_once())
        clock.advance(waits[-1])
    assert waits == [1, 2, 4, 8]


def test_no_request_is_made_while_backing_off(worker, spool, langfuse, clock) -> None:
    langfuse.exports = [status(503)]
    spool.append([span_row(1)])
    worker.run_once()
    spool.append([span_row(2)])
    clock.advance(0.5)
    assert worker.run_once() == pytest.approx(0.5)
    assert exports(langfuse) == 1


def test_retry_after_is_honoured(worker, spool, langfuse, clock) -> None:
    langfuse.exports = [status(429, headers={"Retry-After": "30"})]
    spool.append([span_row(1)])
    assert worker.run_once() == 30
    clock.advance(29)
    worker.run_once()
    assert exports(langfuse) == 1
    clock.advance(1)
    worker.run_once()
    assert exports(langfuse) == 2


def test_a_success_resets_the_backoff(worker, spool, langfuse, clock) -> None:
    langfuse.exports = [status(503), status(503), status(200), status(503)]
    spool.append([span_row(1)])
    clock.advance(worker.run_once())
    clock.advance(worker.run_once())
    worker.run_once()
    spool.append([span_row(2)])
    assert worker.run_once() == 1


def test_refused_keys_are_logged_once_naming_them_and_the_data_is_kept(
    worker, spool, langfuse, clock, caplog
) -> None:
    langfuse.exports = [status(401, {"message": "Invalid credentials"})] * 3
    spool.append([span_row(1)])
    with caplog.at_level(logging.WARNING, logger="llmops.callback"):
        for _ in range(3):
            clock.advance(worker.run_once())
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "LANGFUSE_PUBLIC_KEY" in errors[0].getMessage()
    assert "LANGFUSE_SECRET_KEY" in errors[0].getMessage()
    assert spool.health()["backlog_spans"] == 1
    assert "401" in spool.health()["last_error"]
    worker.run_once()
    assert spool.health()["delivered"] == 1


def test_a_batch_too_large_is_split_until_it_fits(worker, spool, langfuse) -> None:
    langfuse.exports = [status(413), status(200), status(200)]
    spool.append([span_row(n) for n in range(4)])
    worker.run_once()
    sizes = [len(batch) for batch in langfuse.exported_batches()]
    assert sizes == [4, 2, 2]
    assert spool.health()["delivered"] == 4


def test_a_single_span_too_large_is_sent_with_its_long_fields_truncated(
    worker, spool, langfuse
) -> None:
    langfuse.exports = [status(413), status(200)]
    spool.append([span_row(1, "x" * 500_000)])
    worker.run_once()
    sent = langfuse.exported_batches()[-1][0]
    body = attribute_map(sent)["langfuse.observation.input"]
    assert len(body) < 100_000
    assert "truncated by the llmops callback" in body
    assert spool.health()["delivered"] == 1


def test_a_span_refused_even_when_shrunk_is_dropped_and_counted(
    worker, spool, langfuse, caplog
) -> None:
    langfuse.exports = [status(413)] * 4
    spool.append([span_row(1, "x" * 500_000)])
    with caplog.at_level(logging.ERROR, logger="llmops.callback"):
        worker.run_once()
    assert spool.health()["rejected"] == 1
    assert spool.health()["backlog_spans"] == 0
    assert "dropped" in caplog.records[-1].getMessage()


def test_a_malformed_span_is_isolated_and_the_rest_delivered(worker, spool, langfuse) -> None:
    langfuse.exports = [status(400), status(200), status(400)]
    spool.append([span_row(1), span_row(2)])
    worker.run_once()
    assert (spool.health()["delivered"], spool.health()["rejected"]) == (1, 1)


def test_an_unanswered_batch_is_not_sent_again_before_it_is_checked(
    worker, spool, langfuse, clock
) -> None:
    langfuse.exports = [read_timeout]
    spool.append([span_row(1)])
    worker.run_once()
    clock.advance(SETTLE - 1)
    worker.run_once()
    assert exports(langfuse) == 1
    assert spool.health()["in_doubt_spans"] == 1


def test_an_unanswered_batch_that_langfuse_has_is_not_sent_again(
    worker, spool, langfuse, clock
) -> None:
    langfuse.exports = [read_timeout]
    langfuse.reads = [status(200, {"data": [{"id": f"{1:016x}"}], "meta": {}})]
    spool.append([span_row(1)])
    worker.run_once()
    clock.advance(SETTLE)
    worker.run_once()
    assert exports(langfuse) == 1
    assert spool.health()["backlog_spans"] == 0
    assert spool.health()["in_doubt_found"] == 1


def test_only_the_unanswered_spans_langfuse_lacks_are_sent_again(
    worker, spool, langfuse, clock
) -> None:
    langfuse.exports = [read_timeout]
    langfuse.reads = [status(200, {"data": [{"id": f"{1:016x}"}], "meta": {}})]
    first, second = span_row(1), span_row(2)
    second = SpanRow(first.trace_id, second.span_id, {**second.span, "traceId": first.trace_id})
    spool.append([first, second])
    worker.run_once()
    clock.advance(SETTLE)
    worker.run_once()
    resent = langfuse.exported_batches()[-1]
    assert [s["spanId"] for s in resent] == [second.span_id]


def test_in_doubt_spans_stay_in_doubt_while_the_read_api_cannot_answer(
    worker, spool, langfuse, clock
) -> None:
    langfuse.exports = [read_timeout]
    langfuse.reads = [status(500)]
    spool.append([span_row(1)])
    worker.run_once()
    clock.advance(SETTLE)
    worker.run_once()
    assert exports(langfuse) == 1
    assert spool.health()["in_doubt_spans"] == 1


def test_the_loop_delivers_what_is_spooled_when_woken_until_stopped(worker, spool) -> None:
    loop = threading.Thread(target=worker.run, daemon=True)
    loop.start()
    try:
        spool.append([span_row(1)])
        worker.wake()
        deadline = time.monotonic() + 10
        while spool.health()["backlog_spans"] and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        worker.stop()
        loop.join(timeout=10)
    assert spool.health()["delivered"] == 1
    assert not loop.is_alive()


def test_the_last_rounds_deliver_batch_after_batch(worker, spool, langfuse, monkeypatch) -> None:
    monkeypatch.setattr("callbacks.worker.BATCH_MAX_SPANS", 1)
    spool.append([span_row(n) for n in (1, 2, 3)])
    worker.finish(5.0)
    assert exports(langfuse) == 3
    assert spool.health()["backlog_spans"] == 0


def test_the_last_rounds_end_at_the_first_refusal(worker, spool, langfuse) -> None:
    langfuse.exports = [refused]
    spool.append([span_row(1)])
    worker.finish(5.0)
    assert exports(langfuse) == 1
    assert spool.health()["backlog_spans"] == 1


def test_spans_waiting_through_an_outage_are_compressed(worker, spool, langfuse, clock) -> None:
    langfuse.exports = [refused] * 5
    spool.append([span_row(1, "def handler(request):\n    return request\n" * 2000)])
    worker.finish(0.0)  # refused: the span waits
    stored_as_json = spool.health()["backlog_bytes"]
    clock.advance(COMPRESS_AFTER_SECONDS + 60)
    worker.finish(0.0)
    assert spool.health()["backlog_bytes"] < stored_as_json / 4
    assert spool.health()["backlog_spans"] == 1


def test_new_spans_keep_flowing_while_the_read_api_cannot_check_a_batch_in_doubt(
    worker, spool, langfuse, clock
) -> None:
    langfuse.exports = [read_timeout]
    langfuse.reads = [status(500)] * 20
    spool.append([span_row(1)])
    worker.run_once()
    clock.advance(SETTLE)
    spool.append([span_row(2)])
    worker.run_once()
    assert [s["spanId"] for s in langfuse.exported_batches()[-1]] == [span_row(2).span_id]
    health = spool.health()
    assert (health["delivered"], health["in_doubt_spans"]) == (1, 1)
    assert "HTTP 500" in health["in_doubt_check_error"]


def test_a_batch_in_doubt_is_sent_again_unchecked_after_the_bounded_wait(
    worker, spool, langfuse, clock, caplog
) -> None:
    langfuse.exports = [read_timeout]
    langfuse.reads = [status(429)] * 100
    spool.append([span_row(1)])
    with caplog.at_level(logging.WARNING, logger="llmops.callback"):
        worker.run_once()
        clock.advance(SETTLE)
        while clock.now < 1_800_000_000.0 + MAX_DOUBT + 120 and spool.health()["delivered"] == 0:
            clock.advance(max(worker.run_once(), 1.0))
    assert exports(langfuse) == 2
    health = spool.health()
    assert (health["delivered"], health["in_doubt_resent_unchecked"]) == (1, 1)
    waits = [r for r in caplog.records if "cannot confirm" in r.getMessage()]
    assert len(waits) == 1  # the pause is logged once, not once per check
    assert any("sent again" in r.getMessage() for r in caplog.records)


def test_the_noted_check_problem_clears_once_the_read_api_answers(
    worker, spool, langfuse, clock
) -> None:
    langfuse.exports = [read_timeout]
    langfuse.reads = [status(404)]
    spool.append([span_row(1)])
    worker.run_once()
    clock.advance(SETTLE)
    worker.run_once()
    assert spool.health()["in_doubt_check_error"] == "read API answered HTTP 404"
    clock.advance(MAX_DOUBT / 2)
    worker.run_once()  # the read API finds nothing now: resent, delivered
    health = spool.health()
    assert (health["in_doubt_check_error"], health["in_doubt_resent"]) == (None, 1)
    assert health["delivered"] == 1
