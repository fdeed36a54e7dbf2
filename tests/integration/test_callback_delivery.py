"""Through the real proxy: Langfuse silent, down, losing its answer or its read API; the
delivery process or the proxy SIGKILLed.

Clients must never notice, and every trace must reach Langfuse exactly once. The Langfuse
stand-in keeps its data on disk so it can be stopped and started like a real outage. One
proxy serves the module; the SIGKILL test, last, kills it and starts a new one on the same
spool.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fakes.bedrock.harness import RunningBedrock, running_bedrock
from tests.fakes.langfuse.harness import LangfuseStandIn, running_langfuse
from tests.integration.callback_stack import (
    DELIVERY_TIMEOUT_S,
    CallbackStack,
    open_callback_stack,
    trace_id,
)
from tests.integration.proxy_harness import RunningProxy

pytestmark = pytest.mark.integration

MODEL = "claude-sonnet-4-6"
OUTAGE_REQUESTS = 200
LOAD_REQUESTS = 300
KILLS = 3
KILL_EVERY_S = 2.0


@pytest.fixture(scope="module")
def bedrock() -> Iterator[RunningBedrock]:
    with running_bedrock() as running:
        yield running


@pytest.fixture(scope="module")
def langfuse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LangfuseStandIn]:
    store = tmp_path_factory.mktemp("langfuse-store") / "langfuse.db"
    with running_langfuse(store_path=store) as running:
        yield running


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("callback-delivery")


@pytest.fixture(scope="module")
def stack(work_dir, bedrock, langfuse) -> Iterator[CallbackStack]:
    with open_callback_stack(work_dir, bedrock, langfuse) as opened:
        yield opened


def send(stack: CallbackStack, count: int, label: str) -> list[str]:
    """`count` requests, 8 at a time, every third one streamed; all must succeed."""

    def one(n: int) -> str:
        messages = [{"role": "user", "content": f"{label} request {n}"}]
        call_id, answer = stack.chat(MODEL, messages, stream=n % 3 == 0)
        assert answer
        return call_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


def assert_each_trace_once(langfuse: LangfuseStandIn, call_ids: list[str]) -> None:
    """Every request arrived as exactly one root span and one generation; nothing twice."""
    spans = langfuse.spans()
    copies = Counter(span["spanId"] for span in spans)
    assert [s for s, n in copies.items() if n > 1] == []
    per_trace = Counter(span["traceId"] for span in spans)
    assert {per_trace[trace_id(c)] for c in call_ids} == {2}


def test_requests_complete_while_langfuse_never_answers(stack, langfuse) -> None:
    langfuse.set_mode("blackhole")
    started = time.monotonic()
    try:
        call_ids = send(stack, 12, "blackhole")
    finally:
        langfuse.set_mode("normal")
    print(f"12 requests with Langfuse silent: {time.monotonic() - started:.2f} s")
    stack.wait_until_delivered()
    assert_each_trace_once(langfuse, call_ids)


def test_a_batch_whose_answer_was_lost_is_not_sent_twice(stack, langfuse) -> None:
    langfuse.set_mode("blackhole", store=True, count=1)
    call_ids = send(stack, 3, "lost-answer")
    health = stack.wait_until_delivered()
    assert health["in_doubt_found"] >= 1
    assert_each_trace_once(langfuse, call_ids)


def test_a_gateway_timeout_after_langfuse_took_the_batch_is_not_sent_twice(stack, langfuse) -> None:
    langfuse.set_mode("error", status=504, store=True, count=1)
    call_ids = send(stack, 3, "gateway-timeout")
    stack.wait_until_delivered()
    assert_each_trace_once(langfuse, call_ids)


def test_an_outage_loses_nothing_and_duplicates_nothing(stack, langfuse) -> None:
    langfuse.stop()
    try:
        call_ids = send(stack, OUTAGE_REQUESTS, "outage")
        stack.wait_for_backlog(2 * OUTAGE_REQUESTS)
    finally:
        langfuse.start()
    stack.wait_until_delivered()
    assert_each_trace_once(langfuse, call_ids)


def test_a_delivery_process_killed_on_a_quiet_proxy_is_restarted_and_delivers(
    stack, langfuse
) -> None:
    langfuse.stop()
    try:
        call_ids = send(stack, 50, "quiet-kill")
        stack.wait_for_backlog(100)
        (dead,) = delivery_processes(stack.proxy)
        os.kill(dead, signal.SIGKILL)
    finally:
        langfuse.start()
    stack.wait_until_delivered()  # and no request after the kill
    assert_each_trace_once(langfuse, call_ids)
    assert not Path(f"/proc/{dead}").exists()  # reaped, not a zombie
    assert len(delivery_processes(stack.proxy)) == 1


def test_killing_the_delivery_process_under_load_loses_nothing(stack, langfuse) -> None:
    done = threading.Event()

    def kill_repeatedly() -> None:
        for _ in range(KILLS):
            if done.wait(KILL_EVERY_S):
                return
            for pid in delivery_processes(stack.proxy):
                os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_repeatedly, daemon=True)
    killer.start()
    try:
        call_ids = send(stack, LOAD_REQUESTS, "kill-under-load")
    finally:
        done.set()
        killer.join()
    stack.wait_until_delivered()
    assert_each_trace_once(langfuse, call_ids)


def test_new_traces_flow_while_the_read_api_cannot_confirm_a_batch_in_doubt(
    tmp_path, bedrock, langfuse
) -> None:
    # Spans stay in doubt for ten settle delays before they are resent unchecked: long
    # enough here for the new traces to be delivered meanwhile.
    slow_settle = {"LLMOPS_IN_DOUBT_SETTLE_SECONDS": "6"}
    with open_callback_stack(tmp_path, bedrock, langfuse, slow_settle) as doubting:
        langfuse.set_read_fault(500)
        try:
            langfuse.set_mode("blackhole", store=True, count=1)
            doubtful = send(doubting, 3, "in-doubt")
            # Once a check failed, the worker of old paused every export.
            wait_until(lambda: bool(doubting.health()["in_doubt_check_error"]), doubting)
            fresh = send(doubting, 5, "while-in-doubt")
            wait_until(lambda: stored_traces(langfuse, fresh), doubting)
            health = doubting.health()
            assert health["in_doubt_spans"] > 0
            assert "500" in health["in_doubt_check_error"]
        finally:
            langfuse.set_read_fault(None)
            langfuse.set_mode("normal")
        doubting.wait_until_delivered()
    assert_each_trace_once(langfuse, doubtful + fresh)


def stored_traces(langfuse: LangfuseStandIn, call_ids: list[str]) -> bool:
    """Each request's root and generation stored (read through the control API)."""
    per_trace = Counter(span["traceId"] for span in langfuse.spans())
    return all(per_trace[trace_id(c)] >= 2 for c in call_ids)


def wait_until(condition: Callable[[], bool], stack: CallbackStack) -> None:
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, (stack.health(), stack.proxy.log_tail())
        time.sleep(0.2)


def test_a_sigkilled_proxy_delivers_its_backlog_after_restart(
    stack, work_dir, bedrock, langfuse
) -> None:
    langfuse.stop()
    try:
        call_ids = send(stack, 20, "sigkill")
        stack.wait_for_backlog(40)
        kill_process_group(stack.proxy)
    finally:
        langfuse.start()
    with open_callback_stack(work_dir, bedrock, langfuse) as restarted:
        restarted.wait_until_delivered()
    assert_each_trace_once(langfuse, call_ids)


def processes() -> Iterator[tuple[int, list[bytes]]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue


def proxy_group(proxy: RunningProxy) -> int:
    """The process group of the proxy we started, found by its port."""
    port = proxy.url.rsplit(":", 1)[1]
    for pid, argv in processes():
        if b"manage_langfuse.py" in b" ".join(argv) and port.encode() in argv:
            return os.getpgid(pid)
    raise AssertionError(f"no proxy process listens on port {port}")


def delivery_processes(proxy: RunningProxy) -> list[int]:
    """The live delivery processes of the proxy we started (zombies excluded)."""
    group = proxy_group(proxy)
    found = []
    for pid, argv in processes():
        if any(arg.endswith(b"callbacks/delivery.py") for arg in argv):
            with contextlib.suppress(ProcessLookupError):
                if os.getpgid(pid) == group:
                    found.append(pid)
    return found


def kill_process_group(proxy: RunningProxy) -> None:
    """SIGKILL the proxy we started (its own process group)."""
    os.killpg(proxy_group(proxy), signal.SIGKILL)
