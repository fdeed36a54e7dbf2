"""Wiring: per proxy process, the spool, the recorder, and the delivery process beside them.

Per process, not per import: LiteLLM may load the callback file more than once, and each
proxy worker process needs its own SQLite connections (they do not survive a fork) and its
own delivery process. Recording and delivery run in a child process (delivery.py), not in a
thread of the proxy: at saturation the proxy is bound to one core by the GIL, and that work
would take the core's CPU from serving requests, while the child uses another (measured by
bench/). The hook hands each event to the child as a frame on its stdin, never waiting; when
the pipe has no room for it (or there is no child), the proxy records the event itself and
sends an empty frame to wake the child. A child that died is started again on the next
frame, at most once a minute; spans wait in the spool meanwhile.
At exit the pipe is closed: the child delivers what is ready and exits, waited for a few
seconds at most.

If the spool cannot be opened (unwritable volume...), the error is logged and retried a minute
later; the proxy keeps serving requests meanwhile.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import fcntl
import logging
import os
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from . import delivery
from .hook import LangfuseV4Logger
from .recorder import Event, Recorder, encode_event
from .redaction import Redactor
from .settings import CallbackSettings
from .spool import Spool

log = logging.getLogger("llmops.callback")

START_RETRY_SECONDS = 60.0
STOP_WAIT_SECONDS = delivery.LAST_ROUNDS_SECONDS + 2.0
DELIVERY_SCRIPT = str(Path(delivery.__file__).resolve())
PIPE_BYTES = 1 << 20  # Linux's default ceiling for an unprivileged process


class DeliveryProcess:
    """This process's delivery child: woken without blocking, restarted when it died."""

    def __init__(
        self, environ: Mapping[str, str], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._environ = environ
        self._clock = clock
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pipe_bytes = 0
        self._restarted_at = float("-inf")
        self._stopped = False
        self._process = self._start()
        os.register_at_fork(after_in_child=self._leave_to_parent)

    def _start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, DELIVERY_SCRIPT],
            stdin=subprocess.PIPE,
            bufsize=0,  # unbuffered: a frame is one write(2), which never waits (non-blocking)
            env=self._environ,
            close_fds=True,
            start_new_session=False,
        )
        pipe = process.stdin.fileno()
        os.set_blocking(pipe, False)
        with contextlib.suppress(OSError):  # a larger pipe holds a burst of large events
            fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self._pipe_bytes = fcntl.fcntl(pipe, fcntl.F_GETPIPE_SZ)
        return process

    @property
    def pid(self) -> int:
        return self._process.pid

    def wake(self) -> None:
        """New spans were spooled: tell the child. Never blocks, never raises. A full pipe
        means the child has frames pending already, which wake it anyway."""
        self._write(delivery.WAKE_FRAME)

    def hand_off(self, event: Event) -> bool:
        """Give `event` to the child to record; False when it cannot take it now (not
        running, or its pipe too full): the caller records it itself. Never blocks."""
        return self._write(delivery.frame(encode_event(event)))

    def _write(self, data: bytes) -> bool:
        if self._stopped:
            return False
        process = self._process
        if process.poll() is not None:
            self._restart_if_due(process)
            return False
        with self._write_lock, contextlib.suppress(OSError, ValueError):
            pipe = process.stdin.fileno()
            queued = array.array("i", [0])
            fcntl.ioctl(pipe, termios.FIONREAD, queued)
            if len(data) > self._pipe_bytes - queued[0]:
                return False
            # With the room there, one write takes the whole frame; should it not, the rest
            # is written blocking, since half a frame would garble every later one.
            rest = data[os.write(pipe, data) :]
            if rest:
                os.set_blocking(pipe, True)
                process.stdin.write(rest)
                os.set_blocking(pipe, False)
            return True
        return False  # a broken pipe: the child just died, and the next write restarts it

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

    def hand_off(self, event: Event) -> bool:
        """Give `event` to this process's delivery process; False if there is none to take it."""
        runtime = self.current()
        return runtime is not None and runtime.delivery.hand_off(event)

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
            _handler = LangfuseV4Logger(_process_runtime.recorder, _process_runtime.hand_off)
            _process_runtime.recorder()
        return _handler


def delivery_pid() -> int | None:
    """The pid of this process's delivery child, once started: bench/ reads its CPU."""
    runtime = _process_runtime.current()
    return runtime.delivery.pid if runtime is not None else None
