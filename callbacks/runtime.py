"""Wiring: one spool, worker and recorder per process, built from the environment on first use.

Per process, not per import: LiteLLM may load the callback file more than once, and each
proxy worker process needs its own SQLite connections and its own delivery thread (neither
survives a fork). If the spool cannot be opened (unwritable volume...), the error is logged
and retried a minute later; the proxy keeps serving requests meanwhile.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from . import mapping
from .exporter import LangfuseClient, RetryPolicy
from .hook import LangfuseV4Logger
from .recorder import Recorder
from .redact import Redactor
from .settings import CallbackSettings
from .spool import Spool, owner_id
from .worker import DeliveryWorker

log = logging.getLogger("llmops.callback")

START_RETRY_SECONDS = 60.0


@dataclass(frozen=True)
class Runtime:
    settings: CallbackSettings
    spool: Spool
    worker: DeliveryWorker
    recorder: Recorder
    pid: int


def build(environ: Mapping[str, str]) -> Runtime:
    """Open the spool, start the delivery thread (which replays any backlog at once)."""
    settings = CallbackSettings.from_env(environ)
    spool = Spool(
        settings.spool_dir,
        max_bytes=settings.spool_max_bytes,
        shrink=mapping.without_bodies,
        settle_seconds=settings.in_doubt_settle_seconds,
    )
    client = LangfuseClient(
        host=settings.langfuse_host,
        public_key=settings.public_key,
        secret_key=settings.secret_key,
        timeout=settings.export_timeout_seconds,
        clock=time.time,
    )
    worker = DeliveryWorker(
        spool,
        client,
        owner=owner_id(),
        policy=RetryPolicy(maximum=settings.max_backoff_seconds),
        shrink=mapping.smaller,
        # Longer than any one export can take, so a live owner never loses its claim.
        lease_seconds=4 * settings.export_timeout_seconds + 30,
    )
    recorder = Recorder(settings, spool, Redactor.from_env(environ), wake=worker.wake)
    worker.start()
    log.info(
        "llmops callback: spooling to %s, delivering to %s (input logging: %s)",
        spool.path,
        settings.langfuse_host,
        settings.log_input,
    )
    return Runtime(settings, spool, worker, recorder, os.getpid())


class _ProcessRuntime:
    """Builds the runtime once per process; a failed start is retried after a pause."""

    def __init__(self) -> None:
        self._runtime: Runtime | None = None
        self._failed_at = float("-inf")
        self._lock = threading.Lock()

    def recorder(self) -> Recorder | None:
        runtime = self._runtime
        if runtime is not None and runtime.pid == os.getpid():
            return runtime.recorder
        with self._lock:
            runtime = self._runtime
            if runtime is not None and runtime.pid == os.getpid():
                return runtime.recorder
            if time.monotonic() - self._failed_at < START_RETRY_SECONDS:
                return None
            try:
                self._runtime = build(os.environ)
            except Exception as problem:
                self._failed_at = time.monotonic()
                log.error(
                    "llmops callback cannot start (%s: %s); requests are served but not "
                    "traced. Check LLMOPS_SPOOL_DIR is a writable directory. Retrying in %d s.",
                    type(problem).__name__,
                    problem,
                    START_RETRY_SECONDS,
                )
                return None
            return self._runtime.recorder


_process_runtime = _ProcessRuntime()
_handler: LangfuseV4Logger | None = None
_handler_lock = threading.Lock()


def handler() -> LangfuseV4Logger:
    """The process's one LiteLLM logger; starting it replays the spool's backlog."""
    global _handler
    with _handler_lock:
        if _handler is None:
            _handler = LangfuseV4Logger(_process_runtime.recorder)
            _process_runtime.recorder()
        return _handler
