"""The LiteLLM hook: records before it returns, and never lets an error reach LiteLLM."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from callbacks.hook import LangfuseV4Logger
from callbacks.recorder import AttemptEvent, Event, FailureEvent, Recorder
from callbacks.settings import CallbackSettings

from .doubles import RecordingRedactor, exception_from


@pytest.fixture
def recorder(spool, clock, tmp_path) -> Recorder:
    settings = CallbackSettings(spool_dir=tmp_path, log_input="full")
    return Recorder(settings, spool, RecordingRedactor(), wake=lambda: None, clock=clock)


def test_spans_are_spooled_when_the_success_hook_returns(recorder, spool, captured) -> None:
    hook = LangfuseV4Logger(lambda: recorder)
    asyncio.run(hook.async_log_success_event(captured("retry_success"), None, None, None))
    assert spool.health()["backlog_spans"] == 2


def test_each_attempt_starts_when_the_router_started_it(recorder, spool, captured, clock) -> None:
    hook = LangfuseV4Logger(lambda: recorder)
    failure = captured("retry_deployment_failure")
    data = failure["request_data"]

    async def attempt() -> None:
        await hook.async_pre_call_deployment_hook(data, None)
        clock.advance(2.5)
        await hook.async_post_call_failure_deployment_hook(
            data, exception_from(failure["exception"]), None
        )

    asyncio.run(attempt())
    (row,) = spool.claim("t", state="ready", lease=60, max_bytes=10**9, max_spans=10)
    assert int(row.span["startTimeUnixNano"]) == round((clock.now - 2.5) * 1e6) * 1000


def test_a_request_refused_before_routing_has_no_generation(recorder, spool, captured) -> None:
    kwargs = captured("allfail_first_failure")
    kwargs["standard_logging_object"].update(model_id="", model_group="")
    hook = LangfuseV4Logger(lambda: recorder)
    asyncio.run(hook.async_log_failure_event(kwargs, None, None, None))
    assert spool.health()["backlog_spans"] == 0


class BrokenRecorder:
    def started_at(self, call_id: str) -> None:
        return None

    def record_attempt(self, attempt, *, final: bool) -> None:
        raise ValueError("the prompt said: confidential plans")


def test_a_recording_error_never_reaches_litellm_and_never_logs_content(captured, caplog) -> None:
    hook = LangfuseV4Logger(lambda: BrokenRecorder())
    with caplog.at_level(logging.ERROR, logger="llmops.callback"):
        asyncio.run(hook.async_log_success_event(captured("retry_success"), None, None, None))
        hook.log_success_event(captured("retry_success"), None, None, None)
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "ValueError" in message
    assert "confidential" not in message


def test_without_a_recorder_the_hook_does_nothing(captured) -> None:
    hook = LangfuseV4Logger(lambda: None)
    asyncio.run(hook.async_log_success_event(captured("retry_success"), None, None, None))


def test_an_event_handed_to_the_delivery_process_is_not_recorded_here(
    recorder, spool, captured
) -> None:
    handed: list[Event] = []
    hook = LangfuseV4Logger(lambda: recorder, lambda event: handed.append(event) or True)
    asyncio.run(hook.async_log_success_event(captured("retry_success"), None, None, None))
    assert [type(event) for event in handed] == [AttemptEvent]
    assert spool.health()["backlog_spans"] == 0


def test_an_event_the_delivery_process_cannot_take_is_recorded_here(
    recorder, spool, captured
) -> None:
    hook = LangfuseV4Logger(lambda: recorder, lambda event: False)
    asyncio.run(hook.async_log_success_event(captured("retry_success"), None, None, None))
    assert spool.health()["backlog_spans"] == 2


def test_a_failed_request_is_handed_off_with_the_time_it_failed(recorder, captured) -> None:
    failure = captured("retry_deployment_failure")
    handed: list[Event] = []
    hook = LangfuseV4Logger(lambda: recorder, lambda event: handed.append(event) or True)
    before = time.time()
    asyncio.run(
        hook.async_post_call_failure_hook(
            failure["request_data"], exception_from(failure["exception"]), None
        )
    )
    (event,) = handed
    assert isinstance(event, FailureEvent)
    assert before <= event.at <= time.time()
