"""Wiring: per proxy process, one delivery process beside it (handoff.py, delivery.py).

Per process, not per import: LiteLLM may load the callback file more than once, and each
proxy worker process (forked) needs its own delivery process, since pipes and threads do not
survive a fork. The proxy holds no recorder, redactor or spool: the hook only hands events
over. At exit the hand-off sends what it holds and the child delivers what is ready.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from .handoff import DeliveryProcess
from .hook import LangfuseV4Logger
from .recorder import Event, encode_event

log = logging.getLogger("llmops.callback")

START_RETRY_SECONDS = 60.0


@dataclass(frozen=True)
class Runtime:
    delivery: DeliveryProcess
    pid: int


def build(environ: Mapping[str, str]) -> Runtime:
    """Start the delivery process (which replays any backlog of the spool at once)."""
    child = DeliveryProcess(environ)
    atexit.register(child.stop)
    log.info(
        "llmops callback: recording and delivering to %s from process %s",
        environ.get("LANGFUSE_HOST", "the default host"),
        child.pid,
    )
    return Runtime(child, os.getpid())


class _ProcessRuntime:
    """Builds the runtime once per process; a failed start is retried after a pause."""

    def __init__(self) -> None:
        self._runtime: Runtime | None = None
        self._failed_at = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> Runtime | None:
        """This process's runtime, if it was built here (not inherited through a fork)."""
        runtime = self._runtime
        return runtime if runtime is not None and runtime.pid == os.getpid() else None

    def hand_off(self, event: Event) -> None:
        """Give `event` to this process's delivery process (starting it if need be)."""
        runtime = self.current() or self.start()
        if runtime is not None:
            runtime.delivery.hand_off(encode_event(event))

    def start(self) -> Runtime | None:
        with self._lock:
            runtime = self.current()
            if runtime is not None:
                return runtime
            if time.monotonic() - self._failed_at < START_RETRY_SECONDS:
                return None
            try:
                self._runtime = build(os.environ)
            except Exception as problem:
                self._failed_at = time.monotonic()
                log.error(
                    "llmops callback cannot start its delivery process (%s: %s); requests "
                    "are served but not traced. Retrying in %d s.",
                    type(problem).__name__,
                    problem,
                    START_RETRY_SECONDS,
                )
                return None
            return self._runtime


_process_runtime = _ProcessRuntime()
_handler: LangfuseV4Logger | None = None
_handler_lock = threading.Lock()


def handler() -> LangfuseV4Logger:
    """The process's one LiteLLM logger; starting it replays the spool's backlog."""
    global _handler
    with _handler_lock:
        if _handler is None:
            _handler = LangfuseV4Logger(_process_runtime.hand_off)
            _process_runtime.start()
        return _handler


def delivery_pid() -> int | None:
    """The pid of this process's delivery child, while it runs: bench/ reads its CPU."""
    runtime = _process_runtime.current()
    return runtime.delivery.pid if runtime is not None else None
