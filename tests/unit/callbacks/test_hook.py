"""The LiteLLM hook: hands every event over without recording it, never lets an error reach
LiteLLM."""

from __future__ import annotations

import asyncio
import logging
import time

from litellm.proxy._types import ProxyException, UserAPIKeyAuth

from callbacks import limits
from callbacks.hook import LangfuseV4Logger
from callbacks.recorder import AttemptEvent, Event, FailureEvent

from .doubles import exception_from


class HandedOff(list[Event]):
    def __call__(self, event: Event) -> None:
        self.append(event)


def test_a_success_is_handed_off_as_the_final_attempt(captured) -> None:
    handed = HandedOff()
    hook = LangfuseV4Logger(handed)
    asyncio.run(hook.async_log_success_event(captured("retry_success"), None, None, None))
    hook.log_success_event(captured("retry_success"), None, None, None)
    assert [(type(e), e.final) for e in handed] == [(AttemptEvent, True)] * 2


def test_each_attempt_starts_when_the_router_started_it(captured, clock) -> None:
    handed = HandedOff()
    hook = LangfuseV4Logger(handed, clock=clock)
    failure = captured("retry_deployment_failure")
    data = failure["request_data"]

    async def attempt() -> None:
        await hook.async_pre_call_deployment_hook(data, None)
        started = clock.now
        clock.advance(2.5)
        await hook.async_post_call_failure_deployment_hook(
            data, exception_from(failure["exception"]), None
        )
        (event,) = handed
        assert isinstance(event, AttemptEvent)
        assert (event.attempt.start, event.final) == (started, False)

    asyncio.run(attempt())


def test_a_request_refused_before_routing_is_not_handed_off(captured) -> None:
    kwargs = captured("allfail_first_failure")
    kwargs["standard_logging_object"].update(model_id="", model_group="")
    handed = HandedOff()
    asyncio.run(LangfuseV4Logger(handed).async_log_failure_event(kwargs, None, None, None))
    assert handed == []


def test_a_hand_off_error_never_reaches_litellm_and_never_logs_content(captured, caplog) -> None:
    def broken(event: Event) -> None:
        raise ValueError("the prompt said: confidential plans")

    hook = LangfuseV4Logger(broken)
    with caplog.at_level(logging.ERROR, logger="llmops.callback"):
        asyncio.run(hook.async_log_success_event(captured("retry_success"), None, None, None))
        hook.log_success_event(captured("retry_success"), None, None, None)
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "ValueError" in message
    assert "confidential" not in message


def test_a_failed_request_is_handed_off_with_the_time_it_failed(captured) -> None:
    failure = captured("retry_deployment_failure")
    handed = HandedOff()
    hook = LangfuseV4Logger(handed)
    before = time.time()
    asyncio.run(
        hook.async_post_call_failure_hook(
            failure["request_data"], exception_from(failure["exception"]), None
        )
    )
    (event,) = handed
    assert isinstance(event, FailureEvent)
    assert before <= event.at <= time.time()


def _budget_refusal() -> limits.Refused:
    refused = limits.Refused(
        "budget_exceeded",
        "Budget exceeded for the key of alice@example.com",
        "budget_exceeded",
        None,
        429,
    )
    refused.user, refused.team, refused.key_alias = "alice@example.com", "platform", "laptop"
    return refused


def test_a_limits_refusal_names_the_key_owner_the_hook_was_not_given() -> None:
    # LiteLLM hands the failure hook an empty identity for a request custom_auth refused.
    handed = HandedOff()
    data = {"model": "claude-sonnet-4-6", "litellm_call_id": "call-1", "metadata": {}}
    hook = LangfuseV4Logger(handed)
    asyncio.run(hook.async_post_call_failure_hook(data, _budget_refusal(), UserAPIKeyAuth()))
    [event] = handed
    assert isinstance(event, FailureEvent)
    request, error = event.request, event.error
    assert (request.user_id, request.team, request.key_alias) == (
        "alice@example.com",
        "platform",
        "laptop",
    )
    assert (error.kind, error.status, error.refused) == ("budget_exceeded", "429", True)
    assert error.message == "Budget exceeded for the key of alice@example.com"


def test_an_unknown_key_stays_an_unnamed_error() -> None:
    handed = HandedOff()
    unknown = ProxyException("Invalid API key sk-...abcd", "auth_error", "api_key", 401)
    data = {"model": "claude-sonnet-4-6", "litellm_call_id": "call-2", "metadata": {}}
    asyncio.run(LangfuseV4Logger(handed).async_post_call_failure_hook(data, unknown, None))
    [event] = handed
    assert isinstance(event, FailureEvent)
    assert (event.request.user_id, event.error.refused) == (None, False)


def test_litellms_failure_log_of_a_limits_refusal_is_no_upstream_attempt(captured) -> None:
    # LiteLLM logs the refusal as a failure naming a route; no call reached Bedrock.
    kwargs = {**captured("allfail_first_failure"), "exception": _budget_refusal()}
    handed = HandedOff()
    asyncio.run(LangfuseV4Logger(handed).async_log_failure_event(kwargs, None, None, None))
    assert handed == []
