"""Through the real proxy: Langfuse silent, down, or losing its answer; the proxy SIGKILLed.

Clients must never notice, and every trace must reach Langfuse exactly once. The Langfuse
stand-in keeps its data on disk so it can be stopped and started like a real outage. One
proxy serves the module; the SIGKILL test, last, kills it and starts a new one on the same
spool.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fakes.bedrock.harness import RunningBedrock, running_bedrock
from tests.fakes.langfuse.harness import LangfuseStandIn, running_langfuse
from tests.integration.callback_stack import CallbackStack, open_callback_stack, trace_id
from tests.integration.proxy_harness import RunningProxy

pytestmark = pytest.mark.integration

MODEL = "claude-sonnet-4-6"
OUTAGE_REQUESTS = 200


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


def kill_process_group(proxy: RunningProxy) -> None:
    """SIGKILL the proxy we started (its own process group), found by its port."""
    port = proxy.url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"manage_langfuse.py" in b" ".join(argv) and port.encode() in argv:
            os.killpg(os.getpgid(int(entry.name)), signal.SIGKILL)
            return
    raise AssertionError(f"no proxy process listens on port {port}")
