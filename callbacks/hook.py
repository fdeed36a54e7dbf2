"""The LiteLLM CustomLogger: picks each event out of LiteLLM's arguments and records it.

Which LiteLLM hook reports what (LiteLLM 1.106.2, seen through the real proxy):

    async_pre_call_deployment_hook          before every upstream attempt: its start time
    async_post_call_failure_deployment_hook every failed attempt (first try, retry, fallback)
    async_log_success_event                 the attempt that answered (streams: at the end)
    async_log_failure_event                 only the request's first failure (LiteLLM dedupes);
                                            the only report of a stream that broke midway
    async_post_call_failure_hook            the request failed as a whole: the client got an error

On the event loop the hook only turns LiteLLM's arguments into an event (extract.py) and hands
it, as JSON, to the delivery process (`hand_off`), which redacts, maps and spools it there:
at saturation the proxy is bound to one core, and recording in its process (even on a
thread) cost it several times the recording's own CPU (GIL hand-offs, cold caches; bench/).
When the delivery process cannot take the event (not running, its pipe full), the event is
recorded here instead, on one background thread per process (in order, so the input delta
sees requests in order), awaited so that the spans are spooled when the hook returns. Every
hook swallows its own errors: a logging problem must never fail or slow a request.

LiteLLM calls the logging hooks just after the response went out, so a proxy killed in that
instant (milliseconds) loses that one request's trace. A handed-off event waits in the pipe
until the delivery process spooled it (milliseconds; it survives the proxy's crash, not the
delivery process's); spooled spans survive any crash of the proxy, and power loss once synced
(spool.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from . import extract
from .recorder import AttemptEvent, Event, FailureEvent, Recorder

log = logging.getLogger("llmops.callback")

ERROR_LOG_INTERVAL_SECONDS = 60.0

HandOff = Callable[[Event], bool]


def _not_handed_off(event: Event) -> bool:
    return False


class LangfuseV4Logger(CustomLogger):
    """Traces every proxied request to Langfuse v4 through the durable spool."""

    def __init__(
        self,
        recorder_factory: Callable[[], Recorder | None],
        hand_off: HandOff = _not_handed_off,
    ) -> None:
        super().__init__()
        self._recorder_factory = recorder_factory
        self._hand_off = hand_off
        self._executor: ThreadPoolExecutor | None = None
        self._executor_pid = 0
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
        await self._record(self._deployment_failed, request_data, exception, time.time())

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        await self._record(self._attempt_finished, kwargs)

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        await self._record(self._attempt_finished, kwargs)

    def log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._guarded(self._record_here, self._attempt_finished, kwargs)

    def log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._guarded(self._record_here, self._attempt_finished, kwargs)

    async def async_post_call_failure_hook(
        self,
        request_data: dict[str, Any],
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> None:
        await self._record(self._request_failed, request_data, original_exception, time.time())
        return None

    # -- LiteLLM's arguments -> events -------------------------------------------------------

    def _attempt_started(self, kwargs: Any) -> None:
        recorder = self._recorder_factory()
        call_id = kwargs.get("litellm_call_id")
        if recorder is not None and call_id:
            recorder.attempt_started(str(call_id))

    def _attempt_finished(self, recorder: Recorder, kwargs: Any) -> Event | None:
        payload = kwargs.get("standard_logging_object")
        if not payload:
            return None
        if payload.get("status") != "success" and not payload.get("model_id"):
            return None  # refused before routing (auth, unknown model): no upstream attempt
        call_id = str(kwargs.get("litellm_call_id") or payload.get("litellm_call_id") or "")
        attempt = extract.attempt_from_logging(kwargs, recorder.started_at(call_id))
        return AttemptEvent(attempt, final=payload.get("status") == "success")

    def _deployment_failed(
        self, recorder: Recorder, request_data: Any, exception: Exception, now: float
    ) -> Event:
        call_id = str(request_data.get("litellm_call_id") or "")
        attempt = extract.attempt_from_deployment_failure(
            request_data, exception, recorder.started_at(call_id), now
        )
        return AttemptEvent(attempt, final=False)

    def _request_failed(
        self, recorder: Recorder, request_data: Any, exception: Exception, now: float
    ) -> Event:
        request = extract.request_from_data(request_data)
        return FailureEvent(request, extract.error_from_exception(exception), now)

    # -- recording: handed off, or here ------------------------------------------------------

    async def _record(self, make_event: Callable[..., Event | None], *args: Any) -> None:
        """Make the event on the loop (cheap); hand it off, else record it in the background."""
        try:
            recorder = self._recorder_factory()
            event = make_event(recorder, *args) if recorder is not None else None
            if recorder is None or event is None or self._hand_off(event):
                return
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(
                self._recording_thread(), self._guarded, event.apply_to, recorder
            )
        except Exception as problem:  # extraction, or the executor itself (e.g. shut down)
            self._log_error(problem)

    def _record_here(self, make_event: Callable[..., Event | None], *args: Any) -> None:
        recorder = self._recorder_factory()
        event = make_event(recorder, *args) if recorder is not None else None
        if recorder is not None and event is not None:
            event.apply_to(recorder)

    # -- never raise into LiteLLM ------------------------------------------------------------

    def _recording_thread(self) -> ThreadPoolExecutor:
        """One thread per process (a forked child gets its own: threads do not survive fork)."""
        if self._executor is None or self._executor_pid != os.getpid():
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmops-record")
            self._executor_pid = os.getpid()
        return self._executor

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
