"""The LiteLLM CustomLogger: picks each event out of LiteLLM's arguments and hands it over.

Which LiteLLM hook reports what (LiteLLM 1.106.2, seen through the real proxy):

    async_pre_call_deployment_hook          before every upstream attempt: its start time
    async_post_call_failure_deployment_hook every failed attempt (first try, retry, fallback)
    async_log_success_event                 the attempt that answered (streams: at the end)
    async_log_failure_event                 only the request's first failure (LiteLLM dedupes);
                                            the only report of a stream that broke midway
    async_post_call_failure_hook            the request failed as a whole: the client got an error

On the event loop the hook only turns LiteLLM's arguments into an event (extract.py) and
hands it, as JSON, to the delivery process (handoff.py), the one place events are recorded
(redacted, mapped, spooled; delivery.py says why there). Handing off never blocks: an event
the child cannot take now waits in a bounded queue. The only state kept here is when each
attempt started, which the events carry. Every hook swallows its own errors: a logging
problem must never fail or slow a request.

What can be lost, and when, is in handoff.py (and the README, "What is traced": Delivery).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from . import extract
from .recorder import AttemptEvent, Event, FailureEvent

log = logging.getLogger("llmops.callback")

ERROR_LOG_INTERVAL_SECONDS = 60.0
MAX_TRACKED_ATTEMPTS = 10_000

HandOff = Callable[[Event], None]


class AttemptStarts:
    """When the router started each request's current attempt (bounded, oldest forgotten)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._started: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def started(self, call_id: str) -> None:
        with self._lock:
            self._started[call_id] = self._clock()
            self._started.move_to_end(call_id)
            while len(self._started) > MAX_TRACKED_ATTEMPTS:
                self._started.popitem(last=False)

    def get(self, call_id: str) -> float | None:
        with self._lock:
            return self._started.get(call_id)


class LangfuseV4Logger(CustomLogger):
    """Traces every proxied request to Langfuse v4 through the durable spool."""

    def __init__(self, hand_off: HandOff, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._hand_off = hand_off
        self._starts = AttemptStarts(clock)
        self._last_error_logged = 0.0

    # -- LiteLLM hooks -----------------------------------------------------------------------

    async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> None:
        self._guarded(self._attempt_started, kwargs)
        return None

    async def async_post_call_failure_deployment_hook(
        self,
        request_data: Any,
        exception: Exception,
        call_type: Any,
        fallback_depth: int | None = None,
    ) -> None:
        self._guarded(self._record, self._deployment_failed, request_data, exception, time.time())

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._guarded(self._record, self._attempt_finished, kwargs)

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._guarded(self._record, self._attempt_finished, kwargs)

    def log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._guarded(self._record, self._attempt_finished, kwargs)

    def log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._guarded(self._record, self._attempt_finished, kwargs)

    async def async_post_call_failure_hook(
        self,
        request_data: dict[str, Any],
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> None:
        self._guarded(
            self._record, self._request_failed, request_data, original_exception, time.time()
        )
        return None

    # -- LiteLLM's arguments -> events -------------------------------------------------------

    def _attempt_started(self, kwargs: Any) -> None:
        call_id = kwargs.get("litellm_call_id")
        if call_id:
            self._starts.started(str(call_id))

    def _attempt_finished(self, kwargs: Any) -> Event | None:
        payload = kwargs.get("standard_logging_object")
        if not payload:
            return None
        if payload.get("status") != "success" and not payload.get("model_id"):
            return None  # refused before routing (auth, unknown model): no upstream attempt
        if extract.is_refusal(kwargs.get("exception")):
            return None  # the key's limits refused it (LiteLLM may name a route): no attempt
        call_id = str(kwargs.get("litellm_call_id") or payload.get("litellm_call_id") or "")
        attempt = extract.attempt_from_logging(kwargs, self._starts.get(call_id))
        return AttemptEvent(attempt, final=payload.get("status") == "success")

    def _deployment_failed(self, request_data: Any, exception: Exception, now: float) -> Event:
        call_id = str(request_data.get("litellm_call_id") or "")
        attempt = extract.attempt_from_deployment_failure(
            request_data, exception, self._starts.get(call_id), now
        )
        return AttemptEvent(attempt, final=False)

    def _request_failed(self, request_data: Any, exception: Exception, now: float) -> Event:
        request = extract.refused_request(extract.request_from_data(request_data), exception)
        return FailureEvent(request, extract.error_from_exception(exception), now)

    def _record(self, make_event: Callable[..., Event | None], *args: Any) -> None:
        """Make the event (cheap) and hand it to the delivery process."""
        event = make_event(*args)
        if event is not None:
            self._hand_off(event)

    # -- never raise into LiteLLM ------------------------------------------------------------

    def _guarded(self, work: Callable[..., None], *args: Any) -> None:
        try:
            work(*args)
        except Exception as problem:
            self._log_error(problem)

    def _log_error(self, problem: Exception) -> None:
        now = time.monotonic()
        if now - self._last_error_logged >= ERROR_LOG_INTERVAL_SECONDS:
            self._last_error_logged = now
            # Type and place only: the message of an error may quote request content.
            frame = traceback.extract_tb(problem.__traceback__)[-1:] or None
            where = f" at {frame[0].filename}:{frame[0].lineno}" if frame else ""
            log.error(
                "llmops callback could not record a request (%s%s); the request itself is "
                "unaffected. Further errors are logged at most once a minute.",
                type(problem).__name__,
                where,
            )
