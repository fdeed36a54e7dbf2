"""The delivery process beside the proxy: a real child, a real spool, the Langfuse stand-in.

The parent side is handoff.DeliveryProcess, as the proxy uses it; the child is
callbacks/delivery.py run as a script, as in the proxy. Each test waits for a condition with
a generous deadline and never for a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from callbacks import extract, handoff
from callbacks.callback_settings import CallbackSettings
from callbacks.delivery import ACK, frame, open_spool, relay_events
from callbacks.extract import Attempt
from callbacks.handoff import DeliveryProcess, restart_delay
from callbacks.hook import LangfuseV4Logger
from callbacks.recorder import AttemptEvent, encode_event
from callbacks.spool import Spool
from tests.fakes.langfuse.harness import LangfuseStandIn, running_langfuse

from .doubles import FakeClock, exception_from

DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def langfuse() -> Iterator[LangfuseStandIn]:
    with running_langfuse() as running:
        yield running


@pytest.fixture
def environ(tmp_path: Path, langfuse: LangfuseStandIn) -> dict[str, str]:
    langfuse.reset()
    return {
        **os.environ,
        "LANGFUSE_HOST": langfuse.url,
        "LANGFUSE_PUBLIC_KEY": langfuse.public_key,
        "LANGFUSE_SECRET_KEY": langfuse.secret_key,
        "LLMOPS_SPOOL_DIR": str(tmp_path / "spool"),
    }


@pytest.fixture
def spool(environ: dict[str, str]) -> Spool:
    """The spool the child writes, to read its health."""
    return open_spool(CallbackSettings.from_env(environ))


@pytest.fixture
def start_delivery(environ: dict[str, str]) -> Iterator[Callable[..., DeliveryProcess]]:
    started: list[DeliveryProcess] = []

    def start(**options: object) -> DeliveryProcess:
        started.append(DeliveryProcess(environ, **options))
        return started[-1]

    yield start
    for process in started:
        if process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGCONT)  # a test may have stopped it
        process.stop()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"not within {DEADLINE_S} s: {what}"
        time.sleep(0.05)


def reaped(pid: int) -> bool:
    """Gone from the process table: neither running nor a zombie."""
    return not Path(f"/proc/{pid}").exists()


def event(captured: Callable[[str], Any], name: str = "retry_success") -> bytes:
    attempt = extract.attempt_from_logging(captured(name), None)
    return encode_event(AttemptEvent(attempt, final=attempt.error is None))


def generations(langfuse: LangfuseStandIn) -> list[str]:
    """The span ids of every generation Langfuse stored, copies included."""
    return [
        span["spanId"]
        for span in langfuse.spans()
        if span["attributes"]["langfuse.observation.type"] == "generation"
    ]


def test_a_handed_off_event_is_recorded_and_delivered_by_the_child(
    start_delivery, spool, langfuse, captured
) -> None:
    delivery = start_delivery()
    delivery.hand_off(event(captured))
    wait_until(lambda: len(langfuse.spans()) == 2, "the generation and the root span")
    wait_until(lambda: delivery.pending == 0, "the event acknowledged")
    assert spool.health()["backlog_spans"] == 0


def test_at_stop_what_was_handed_off_is_recorded_and_delivered_and_the_child_exits_0(
    start_delivery, langfuse, captured
) -> None:
    delivery = start_delivery()
    delivery.hand_off(event(captured))
    assert delivery.stop() == 0
    assert len(langfuse.spans()) == 2


def test_a_killed_child_is_restarted_and_reaped_without_another_event(start_delivery) -> None:
    delivery = start_delivery()
    first = delivery.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: delivery.pid not in (None, first), "a new child, with nothing handed off")
    wait_until(lambda: reaped(first), "the dead child reaped")


def test_an_event_the_child_never_read_goes_to_the_next_child(
    start_delivery, langfuse, captured
) -> None:
    delivery = start_delivery()
    first = delivery.pid
    os.kill(first, signal.SIGSTOP)
    delivery.hand_off(event(captured))  # into the pipe of a child that will never read it
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: len(langfuse.spans()) == 2, "the event recorded by the next child")
    assert delivery.pid != first


def test_events_of_one_request_straddling_a_restart_give_one_generation_per_attempt(
    start_delivery, langfuse, captured
) -> None:
    """Attempt 1 fails and LiteLLM reports it through two hooks; the child dies between the
    two reports; attempt 2 answers. Two generations and one root, each stored once."""
    delivery = start_delivery()
    hook = LangfuseV4Logger(lambda e: delivery.hand_off(encode_event(e)))
    failure = captured("retry_deployment_failure")

    async def request() -> None:
        await hook.async_post_call_failure_deployment_hook(
            failure["request_data"], exception_from(failure["exception"]), None
        )
        wait_until(lambda: delivery.pending == 0, "attempt 1 recorded by the first child")
        first = delivery.pid
        os.kill(first, signal.SIGKILL)
        await hook.async_log_failure_event(captured("retry_first_failure"), None, None, None)
        await hook.async_log_success_event(captured("retry_success"), None, None, None)
        wait_until(lambda: delivery.pid not in (None, first), "the next child")

    asyncio.run(request())
    wait_until(lambda: len(langfuse.spans()) >= 3, "both attempts and the root delivered")
    wait_until(lambda: delivery.pending == 0, "every event acknowledged")
    ids = generations(langfuse)
    assert len(ids) == len(set(ids)) == 2
    assert len(langfuse.spans()) == 3


def test_hand_off_never_blocks_while_the_child_reads_nothing(
    start_delivery, langfuse, captured
) -> None:
    delivery = start_delivery()
    child = delivery.pid
    payload = event(captured)
    count = 4 * handoff.PIPE_BYTES // len(payload)  # far more than the pipe holds
    os.kill(child, signal.SIGSTOP)
    try:
        handing = threading.Thread(
            target=lambda: [delivery.hand_off(payload) for _ in range(count)], daemon=True
        )
        handing.start()
        handing.join(DEADLINE_S)
        assert not handing.is_alive()
    finally:
        os.kill(child, signal.SIGCONT)
    wait_until(lambda: delivery.pending == 0, "every queued event written and acknowledged")
    assert len(langfuse.spans()) == 2  # one request handed off many times: spooled once


def test_events_beyond_the_bound_are_dropped_and_counted_for_status(
    start_delivery, spool, captured, monkeypatch
) -> None:
    payload = event(captured)
    monkeypatch.setattr(handoff, "MAX_HELD_BYTES", 3 * handoff.PIPE_BYTES)
    delivery = start_delivery()
    first = delivery.pid
    os.kill(first, signal.SIGSTOP)
    while delivery.dropped < 5:
        delivery.hand_off(payload)
    dropped = delivery.dropped
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: spool.health()["dropped_events"] == dropped, "the count in the spool")
    assert delivery.dropped == 0


def test_a_child_that_keeps_dying_is_restarted_with_backoff_and_its_exit_code_logged(
    start_delivery, caplog
) -> None:
    clock = FakeClock()
    delivery = start_delivery(clock=clock)
    with caplog.at_level(logging.ERROR, logger="llmops.callback"):
        for deaths in (1, 2, 3):
            dead = delivery.pid
            os.kill(dead, signal.SIGKILL)
            wait_until(lambda: delivery.pid is None, "the death noticed")
            clock.advance(restart_delay(deaths) / 2)
            time.sleep(2 * handoff.WATCH_SECONDS)  # a round or two of the watchdog
            assert delivery.pid is None  # not before its backoff
            clock.advance(restart_delay(deaths) / 2)
            wait_until(lambda: delivery.pid is not None, "the restart after the backoff")
            assert reaped(dead)
    assert restart_delay(2) > restart_delay(1)
    exits = [r.getMessage() for r in caplog.records if "exited with code -9" in r.getMessage()]
    assert len(exits) == 3


class RecordingWorker:
    def __init__(self) -> None:
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()


class EventLog:
    """Stands in for the recorder and the spool: what relay_events applied to them."""

    def __init__(self) -> None:
        self.attempts: list[tuple[Attempt, bool]] = []
        self.dropped: list[int] = []

    def record_attempt(self, attempt: Attempt, *, final: bool) -> None:
        self.attempts.append((attempt, final))

    def count_dropped_events(self, count: int) -> None:
        self.dropped.append(count)


@pytest.fixture
def relayed() -> Iterator[tuple[int, EventLog, RecordingWorker, int]]:
    """relay_events reading a pipe in its own thread; yields the write end, what it recorded,
    the worker and the read end of the acknowledgements."""
    reader, writer = os.pipe()
    ack_reader, ack_writer = os.pipe()
    events, worker = EventLog(), RecordingWorker()
    stream = os.fdopen(reader, "rb")
    acks = os.fdopen(ack_writer, "wb", buffering=0)
    relay = threading.Thread(
        target=relay_events, args=(stream, events, events, worker, acks), daemon=True
    )
    relay.start()
    try:
        yield writer, events, worker, ack_reader
    finally:
        if not worker.stopped.is_set():
            os.close(writer)
        relay.join(DEADLINE_S)
        stream.close()
        acks.close()
        os.close(ack_reader)


def test_an_event_frame_is_recorded_then_acknowledged(relayed, captured) -> None:
    writer, events, _, acks = relayed
    attempt = extract.attempt_from_logging(captured("retry_success"), None)
    os.write(writer, frame(7, encode_event(AttemptEvent(attempt, final=True))))
    assert ACK.unpack(os.read(acks, ACK.size)) == (7,)
    assert events.attempts == [(attempt, True)]


def test_a_frame_that_cannot_be_recorded_is_acknowledged_and_skipped(relayed, caplog) -> None:
    writer, events, _, acks = relayed
    os.write(writer, frame(1, b'{"NoSuchEvent": {}}'))
    assert ACK.unpack(os.read(acks, ACK.size)) == (1,)
    assert events.attempts == []


def test_the_dropped_count_goes_to_the_spool(relayed) -> None:
    writer, events, worker, _ = relayed
    os.write(writer, frame(0, b"12"))
    os.close(writer)
    assert worker.stopped.wait(DEADLINE_S)
    assert events.dropped == [12]


def test_end_of_stdin_stops_the_worker(relayed) -> None:
    writer, _, worker, _ = relayed
    os.close(writer)
    assert worker.stopped.wait(DEADLINE_S)


class UnwritableSpool(EventLog):
    def record_attempt(self, attempt: Attempt, *, final: bool) -> None:
        raise sqlite3.OperationalError("database or disk is full")


def test_an_event_the_spool_cannot_take_is_not_acknowledged_and_the_child_stops(
    captured,
) -> None:
    reader, writer = os.pipe()
    ack_reader, ack_writer = os.pipe()
    worker = RecordingWorker()
    with os.fdopen(reader, "rb") as stream, os.fdopen(ack_writer, "wb", buffering=0) as acks:
        os.write(writer, frame(1, event(captured)))
        relay_events(stream, UnwritableSpool(), EventLog(), worker, acks)
    assert worker.stopped.is_set()
    assert os.read(ack_reader, ACK.size) == b""  # closed without an acknowledgement
    os.close(writer)
    os.close(ack_reader)
