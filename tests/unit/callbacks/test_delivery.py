"""The delivery process beside the proxy: a real child, a real spool, the Langfuse stand-in.

The parent side is runtime.DeliveryProcess, as the proxy uses it; the child is
callbacks/delivery.py run as a script, as in the proxy. Each test waits for a condition with
a generous deadline and never for a fixed time.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from callbacks import extract
from callbacks.delivery import WAKE_FRAME, frame, open_spool, relay_events
from callbacks.extract import Attempt
from callbacks.recorder import AttemptEvent, encode_event
from callbacks.runtime import START_RETRY_SECONDS, DeliveryProcess
from callbacks.settings import CallbackSettings
from callbacks.spool import Spool
from tests.fakes.langfuse.harness import LangfuseStandIn, running_langfuse

from .doubles import FakeClock, span_row

DEADLINE_S = 60.0
# Far more wake frames than the pipe holds (1 MiB), so a blocking write would block.
MANY_WAKES = 4 * (1 << 20) // len(WAKE_FRAME)


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
    """The spool as the proxy opens it, to append to."""
    return open_spool(CallbackSettings.from_env(environ))


@pytest.fixture
def start_delivery(environ: dict[str, str]) -> Iterator[Callable[..., DeliveryProcess]]:
    started: list[DeliveryProcess] = []

    def start(**options: object) -> DeliveryProcess:
        started.append(DeliveryProcess(environ, **options))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"not within {DEADLINE_S} s: {what}"
        time.sleep(0.05)


def delivered(langfuse: LangfuseStandIn) -> set[str]:
    return {span["spanId"] for span in langfuse.spans()}


def span_ids(*numbers: int) -> set[str]:
    return {span_row(n).span_id for n in numbers}


def restarted(delivery: DeliveryProcess, dead_pid: int) -> Callable[[], bool]:
    def check() -> bool:
        delivery.wake()
        return delivery.pid != dead_pid

    return check


def test_spans_the_parent_spools_reach_langfuse_through_the_child(
    start_delivery, spool, langfuse
) -> None:
    delivery = start_delivery()
    spool.append([span_row(1), span_row(2)])
    delivery.wake()
    wait_until(lambda: delivered(langfuse) == span_ids(1, 2), "both spans delivered")
    assert spool.health()["backlog_spans"] == 0


def test_at_end_of_stdin_the_child_delivers_what_is_ready_and_exits_0(
    start_delivery, spool, langfuse
) -> None:
    delivery = start_delivery()
    spool.append([span_row(1)])
    delivery.wake()
    wait_until(lambda: delivered(langfuse) == span_ids(1), "the child is up and delivering")
    spool.append([span_row(2), span_row(3)])
    assert delivery.stop() == 0
    assert delivered(langfuse) == span_ids(1, 2, 3)
    assert spool.health()["backlog_spans"] == 0


def test_a_dead_child_is_started_again_on_the_next_wake_and_delivers_the_backlog(
    start_delivery, spool, langfuse
) -> None:
    delivery = start_delivery()
    first_pid = delivery.pid
    os.kill(first_pid, signal.SIGKILL)
    spool.append([span_row(1), span_row(2)])
    wait_until(restarted(delivery, first_pid), "a new child after a wake")
    wait_until(lambda: delivered(langfuse) == span_ids(1, 2), "the backlog delivered")


def test_a_child_that_keeps_dying_is_restarted_once_a_minute_with_its_exit_code_logged(
    start_delivery, caplog
) -> None:
    clock = FakeClock()
    delivery = start_delivery(clock=clock)
    os.kill(delivery.pid, signal.SIGKILL)
    wait_until(restarted(delivery, delivery.pid), "the first restart")
    second_pid = delivery.pid
    os.kill(second_pid, signal.SIGKILL)

    def reaped() -> bool:
        delivery.wake()
        return not Path(f"/proc/{second_pid}").exists()

    wait_until(reaped, "the second child dead and reaped by a wake")
    delivery.wake()
    assert delivery.pid == second_pid
    clock.advance(START_RETRY_SECONDS)
    delivery.wake()
    assert delivery.pid != second_pid
    restarts = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(restarts) == 2
    assert all("exited with code -9" in message for message in restarts)


def test_wake_never_blocks_while_the_child_reads_nothing(start_delivery) -> None:
    delivery = start_delivery()
    child = delivery.pid
    os.kill(child, signal.SIGSTOP)
    try:
        waking = threading.Thread(
            target=lambda: [delivery.wake() for _ in range(MANY_WAKES)], daemon=True
        )
        waking.start()
        waking.join(DEADLINE_S)
        assert not waking.is_alive()
    finally:
        os.kill(child, signal.SIGCONT)


class RecordingWorker:
    def __init__(self) -> None:
        self.woken = threading.Event()
        self.stopped = threading.Event()

    def wake(self) -> None:
        self.woken.set()

    def stop(self) -> None:
        self.stopped.set()


class EventLog:
    """Stands in for the recorder: what relay_events applied to it."""

    def __init__(self) -> None:
        self.attempts: list[tuple[Attempt, bool]] = []

    def record_attempt(self, attempt: Attempt, *, final: bool) -> None:
        self.attempts.append((attempt, final))


@pytest.fixture
def relayed() -> Iterator[tuple[int, EventLog, RecordingWorker]]:
    """relay_events reading a pipe in its own thread; yields the write end, what it recorded
    and the worker."""
    reader, writer = os.pipe()
    events, worker = EventLog(), RecordingWorker()
    stream = os.fdopen(reader, "rb")
    relay = threading.Thread(target=relay_events, args=(stream, events, worker), daemon=True)
    relay.start()
    try:
        yield writer, events, worker
    finally:
        if not worker.stopped.is_set():
            os.close(writer)
        relay.join(DEADLINE_S)
        stream.close()


def test_an_empty_frame_wakes_the_worker(relayed) -> None:
    writer, events, worker = relayed
    os.write(writer, WAKE_FRAME)
    assert worker.woken.wait(DEADLINE_S)
    assert events.attempts == []
    assert not worker.stopped.is_set()


def test_an_event_frame_is_recorded_then_wakes_the_worker(relayed, captured) -> None:
    writer, events, worker = relayed
    attempt = extract.attempt_from_logging(captured("retry_success"), None)
    os.write(writer, frame(encode_event(AttemptEvent(attempt, final=True))))
    assert worker.woken.wait(DEADLINE_S)
    assert events.attempts == [(attempt, True)]


def test_end_of_stdin_stops_the_worker(relayed) -> None:
    writer, _, worker = relayed
    os.close(writer)
    assert worker.stopped.wait(DEADLINE_S)
    assert not worker.woken.is_set()


def test_a_handed_off_event_is_recorded_and_delivered_by_the_child(
    start_delivery, spool, langfuse, captured
) -> None:
    delivery = start_delivery()
    attempt = extract.attempt_from_logging(captured("retry_success"), None)
    assert delivery.hand_off(AttemptEvent(attempt, final=True))
    wait_until(lambda: len(delivered(langfuse)) == 2, "the generation and the root span")
    assert spool.health()["backlog_spans"] == 0


def test_hand_off_declines_without_blocking_while_the_child_reads_nothing(
    start_delivery, captured
) -> None:
    delivery = start_delivery()
    event = AttemptEvent(extract.attempt_from_logging(captured("retry_success"), None), True)
    os.kill(delivery.pid, signal.SIGSTOP)
    try:
        taken = 0
        while delivery.hand_off(event):
            taken += 1
            assert taken < 100_000, "the pipe never filled"
        assert taken > 0
    finally:
        os.kill(delivery.pid, signal.SIGCONT)
