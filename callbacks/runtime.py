"""Wiring: per proxy process, the spool, the recorder, and the delivery process beside them.

Per process, not per import: LiteLLM may load the callback file more than once, and each
proxy worker process needs its own SQLite connections (they do not survive a fork) and its
own delivery process. Delivery runs in a child process (delivery.py), not in a thread of the
proxy: at saturation the proxy is bound to one core by the GIL, and exporting would take that
core's CPU from serving requests, while the child uses another (measured by bench/). The
recorder wakes the child by writing one byte to its stdin, never waiting. A child that died
is started again on the next wake, at most once a minute; spans wait in the spool meanwhile.
At exit the pipe is closed: the child delivers what is ready and exits, waited for a few
seconds at most.

If the spool cannot be opened (unwritable volume...), the error is logged and retried a minute
later; the proxy keeps serving requests meanwhile.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from . import delivery
from .hook import LangfuseV4Logger
from .recorder import Recorder
from .redact import Redactor
from .settings import CallbackSettings
from .spool import Spool

log = logging.getLogger("llmops.callback")

START_RETRY_SECONDS = 60.0
STOP_WAIT_SECONDS = delivery.LAST_ROUNDS_SECONDS + 2.0
DELIVERY_SCRIPT = str(Path(delivery.__file__).resolve())
WAKE = b"\x01"


class DeliveryProcess:
    """This process's delivery child: woken without blocking, restarted when it died."""

    def __init__(
        self, environ: Mapping[str, str], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._environ = environ
        self._clock = clock
        self._lock = threading.Lock()
        self._restarted_at = float("-inf")
        self._stopped = False
        self._process = self._start()
        os.register_at_fork(after_in_child=self._leave_to_parent)

    def _start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, DELIVERY_SCRIPT],
            stdin=subprocess.PIPE,
            bufsize=0,  # unbuffered: a wake is one write(2), which never waits (non-blocking)
            env=self._environ,
            close_fds=True,
            start_new_session=False,
        )
        os.set_blocking(process.stdin.fileno(), False)
        return process

    @property
    def pid(self) -> int:
        return self._process.pid

    def wake(self) -> None:
        """New spans were spooled: tell the child. Never blocks, never raises."""
        if self._stopped:
            return
        process = self._process
        if process.poll() is not None:
            self._restart_if_due(process)
            return
        # A full pipe (write returns None) means the child has wakes pending already; a
        # broken one, that it just died: the next wake restarts it.
        with contextlib.suppress(OSError, ValueError):
            process.stdin.write(WAKE)

    def _restart_if_due(self, dead: subprocess.Popen[bytes]) -> None:
        with self._lock:
            now = self._clock()
            if self._stopped or self._process is not dead:
                return
            if now - self._restarted_at < START_RETRY_SECONDS:
                return
            self._restarted_at = now
            dead.stdin.close()
            log.error(
                "llmops callback: the delivery process exited with code %s; starting it "
                "again (traces wait in the spool meanwhile, and at most one restart a minute)",
                dead.returncode,
            )
            try:
                self._process = self._start()
            except (OSError, subprocess.SubprocessError) as problem:
                log.error("llmops callback: cannot start the delivery process: %s", problem)

    def stop(self) -> int | None:
        """Close the wake pipe: the child delivers what is ready and exits. Waits a few
        seconds at most, then kills it (what it held waits in the spool). Returns its exit
        code; None if it was stopped already."""
        with self._lock:
            if self._stopped:
                return None
            self._stopped = True
        process = self._process
        process.stdin.close()
        try:
            process.wait(STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning(
                "llmops callback: the delivery process did not exit within %g s; killing it "
                "(undelivered traces wait in the spool)",
                STOP_WAIT_SECONDS,
            )
            process.kill()
        return process.wait()

    def _leave_to_parent(self) -> None:
        """In a forked process: drop the pipe, or the child would never see its end of file
        while the fork lives. The fork starts its own delivery process."""
        self._stopped = True
        self._process.stdin.close()


@dataclass(frozen=True)
class Runtime:
    settings: CallbackSettings
    spool: Spool
    delivery: DeliveryProcess
    recorder: Recorder
    pid: int


def build(environ: Mapping[str, str]) -> Runtime:
    """Open the spool and start the delivery process (which replays any backlog at once)."""
    settings = CallbackSettings.from_env(environ)
    spool = delivery.open_spool(settings, deferred_sync=True)
    child = DeliveryProcess(environ)
    atexit.register(child.stop)
    recorder = Recorder(settings, spool, Redactor.from_env(environ), wake=child.wake)
    log.info(
        "llmops callback: spooling to %s, delivering to %s from process %d (input logging: %s)",
        spool.path,
        settings.langfuse_host,
        child.pid,
        settings.log_input,
    )
    return Runtime(settings, spool, child, recorder, os.getpid())


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

    def recorder(self) -> Recorder | None:
        runtime = self.current()
        if runtime is not None:
            return runtime.recorder
        with self._lock:
            runtime = self.current()
            if runtime is not None:
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


def delivery_pid() -> int | None:
    """The pid of this process's delivery child, once started: bench/ reads its CPU."""
    runtime = _process_runtime.current()
    return runtime.delivery.pid if runtime is not None else None
