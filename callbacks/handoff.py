"""The proxy's side of the delivery process: hands it events, never blocking, and keeps it alive.

The hook calls `hand_off` on the event loop. The event becomes a numbered frame, kept in a
bounded in-memory queue until the delivery process acknowledges that it recorded it
(delivery.py); when nothing waits before it, it is written to the child's stdin pipe at
once, without blocking (what does not fit is left to the writer). One writer thread per
proxy process does the rest: writes what waits as the pipe drains, reads acknowledgements,
and watches the child: one that died (killed, crashed, or failed to open the spool) is
reaped at once, even on a quiet proxy, and started again with backoff; the frames it had
not acknowledged are sent to the new one (the spool skips spans it already holds).
When the queue is full (`MAX_HELD_BYTES`: the child down for long, or far behind), new
events are dropped, counted, and the count is handed to the next child for `status`.
At exit the writer sends what it still holds, then closes the pipe: the child records it,
delivers what is ready and exits, waited for a few seconds at most.

What this cannot keep: events held here when the proxy process itself dies (the queue is in
its memory), and events LiteLLM never reported (a proxy killed between the response and
its logging hook).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

from . import delivery

log = logging.getLogger("llmops.callback")

DELIVERY_SCRIPT = str(Path(delivery.__file__).resolve())
PIPE_BYTES = 1 << 20  # Linux's default ceiling for an unprivileged process
MAX_HELD_BYTES = 64 << 20
WATCH_SECONDS = 0.5
RESTART_FIRST_SECONDS = 0.5
RESTART_MAX_SECONDS = 60.0
HEALTHY_AFTER_SECONDS = 60.0  # a child that lived this long resets the restart backoff
STOP_WAIT_SECONDS = delivery.LAST_ROUNDS_SECONDS + 2.0
STOP_SEND_SECONDS = 2.0


def restart_delay(failures: int) -> float:
    """Seconds before starting a child again after `failures` deaths in a row."""
    return min(RESTART_MAX_SECONDS, RESTART_FIRST_SECONDS * 2 ** max(0, failures - 1))


class _Child:
    """One delivery process and the two pipes to it (frames in, acknowledgements out)."""

    def __init__(self, environ: Mapping[str, str], started: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, DELIVERY_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            env=environ,
            close_fds=True,
        )
        self.started = started
        self.frames = self.process.stdin.fileno()
        self.acks = self.process.stdout.fileno()
        for pipe in (self.frames, self.acks):
            os.set_blocking(pipe, False)
            with contextlib.suppress(OSError):  # room for a burst of large events
                fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self.unread = b""  # the start of an acknowledgement not complete yet
        self.broken = False  # its stdin refused a write: it is exiting

    @property
    def pid(self) -> int:
        return self.process.pid

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream.close()


class DeliveryProcess:
    """This proxy process's delivery child, fed through a bounded queue and kept alive."""

    def __init__(
        self, environ: Mapping[str, str], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._environ = environ
        self._clock = clock
        self._lock = threading.Lock()
        self._held: deque[tuple[int, bytes]] = deque()  # not acknowledged yet, in order
        self._held_bytes = 0
        self._written = 0  # frames of `_held` written whole to the current child
        self._partial = 0  # bytes written of the next one
        self._sequence = 0
        self._dropped = 0  # events dropped and not yet reported to a child
        self._failures = 0
        self._restart_at = 0.0
        self._stopping = False
        self._wake_read, self._wake_write = os.pipe()
        for end in (self._wake_read, self._wake_write):
            os.set_blocking(end, False)
        self._child: _Child | None = None
        self._adopt(_Child(environ, clock()))
        self._writer = threading.Thread(target=self._run, name="llmops-handoff", daemon=True)
        self._writer.start()
        os.register_at_fork(after_in_child=self._leave_to_parent)

    @property
    def pid(self) -> int | None:
        """The current child's pid; None while it is down."""
        child = self._child
        return child.pid if child is not None else None

    @property
    def pending(self) -> int:
        """Events handed off and not yet acknowledged (read every WATCH_SECONDS at most)."""
        return len(self._held)

    @property
    def dropped(self) -> int:
        """Events dropped since the last count reached a child."""
        return self._dropped

    # -- the event loop's side ---------------------------------------------------------------

    def hand_off(self, payload: bytes) -> None:
        """Queue an event (JSON) for the child and write it now if the pipe has room.
        Never blocks, never raises."""
        with self._lock:
            if self._stopping:
                return
            if self._held_bytes + len(payload) > MAX_HELD_BYTES:
                self._dropped += 1
                if self._dropped == 1:
                    log.error(
                        "llmops callback: the delivery process takes no events (down or far "
                        "behind) and %d MiB wait for it; new events are dropped and counted "
                        "(see `status`)",
                        MAX_HELD_BYTES >> 20,
                    )
                return
            self._sequence += 1
            data = delivery.frame(self._sequence, payload)
            self._held.append((self._sequence, data))
            self._held_bytes += len(data)
            if self._written == len(self._held) - 1 and not self._partial:
                self._write_held()
            behind = self._written < len(self._held) or self._held_bytes > MAX_HELD_BYTES // 2
        if behind:
            self._wake_writer()

    def _wake_writer(self) -> None:
        """Make the writer thread act now (room in the pipe may have been missed)."""
        with contextlib.suppress(OSError):  # a full wake pipe wakes it anyway
            os.write(self._wake_write, b"\0")

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                if not self._round():
                    return
            except Exception:
                log.exception("llmops callback: the delivery hand-off failed; retrying")
                time.sleep(WATCH_SECONDS)

    def _round(self) -> bool:
        """Wait for room in the pipe, a wake, or WATCH_SECONDS; then act. False once
        stopping."""
        poller = select.poll()
        poller.register(self._wake_read, select.POLLIN)
        child = self._child
        if child is not None and not child.broken and self._written < len(self._held):
            poller.register(child.frames, select.POLLOUT)
        poller.poll(WATCH_SECONDS * 1000)
        with contextlib.suppress(OSError):
            os.read(self._wake_read, 4096)
        with self._lock:
            if self._stopping:
                return False
            if self._child is not None:
                self._read_acks(self._child)
                if self._child.process.poll() is not None:  # reaps it: no zombie
                    self._buried(self._child)
            due = self._child is None and self._clock() >= self._restart_at
        if due:
            self._replace()
        with self._lock:
            self._write_held()
        return True

    def _replace(self) -> None:
        """Start a child (outside the lock: the event loop never waits on a fork)."""
        try:
            child = _Child(self._environ, self._clock())
        except (OSError, subprocess.SubprocessError) as problem:
            self._failures += 1
            self._restart_at = self._clock() + restart_delay(self._failures)
            log.error("llmops callback: cannot start the delivery process: %s", problem)
            return
        with self._lock:
            if self._stopping:
                child.close()
                child.process.kill()
                child.process.wait()
                return
            self._adopt(child)

    def _adopt(self, child: _Child) -> None:
        """Caller holds the lock: everything held goes to `child`, after the count of
        dropped events."""
        self._child = child
        self._written = self._partial = 0
        if self._dropped:
            notice = delivery.dropped_frame(self._dropped)
            # The pipe is empty and far larger than this frame: one write takes it whole.
            with contextlib.suppress(OSError):
                if os.write(child.frames, notice) == len(notice):
                    self._dropped = 0

    def _buried(self, child: _Child) -> None:
        """The child died (and was reaped by `poll`): schedule the next one with backoff."""
        self._read_acks(child)
        child.close()
        self._child = None
        lived = self._clock() - child.started
        self._failures = 1 if lived >= HEALTHY_AFTER_SECONDS else self._failures + 1
        delay = restart_delay(self._failures)
        self._restart_at = self._clock() + delay
        log.error(
            "llmops callback: the delivery process exited with code %s; starting it again in "
            "%.1f s (%d events it had not recorded wait in memory and are sent to the new "
            "one; spooled traces wait in the spool)",
            child.process.returncode,
            delay,
            len(self._held),
        )

    def _read_acks(self, child: _Child) -> None:
        """Forget every frame the child acknowledged (it acknowledges in order)."""
        while True:
            try:
                data = os.read(child.acks, 1 << 16)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return
            if not data:
                break
            child.unread += data
        size = delivery.ACK.size
        whole = len(child.unread) - len(child.unread) % size
        if not whole:
            return
        (last,) = delivery.ACK.unpack_from(child.unread, whole - size)
        child.unread = child.unread[whole:]
        while self._held and self._held[0][0] <= last:
            _, data = self._held.popleft()
            self._held_bytes -= len(data)
            self._written = max(0, self._written - 1)

    def _write_held(self) -> None:
        """Caller holds the lock: write held frames while the pipe takes them, never
        waiting; a frame written in part is finished by a later call."""
        child = self._child
        if child is None or child.broken:
            return
        while self._written < len(self._held):
            data = self._held[self._written][1]
            try:
                count = os.write(child.frames, memoryview(data)[self._partial :])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                child.broken = True  # it is exiting: the writer notices and replaces it
                return
            self._partial += count
            if self._partial < len(data):
                return
            self._written += 1
            self._partial = 0

    # -- stopping ----------------------------------------------------------------------------

    def stop(self) -> int | None:
        """Send what is held (a few seconds at most), close the pipe: the child records
        it, delivers what is ready and exits. Waits a few seconds, then kills it (what it
        held waits in the spool). Returns its exit code; None if it was stopped already
        or down."""
        with self._lock:
            if self._stopping:
                return None
            self._stopping = True
        self._wake_writer()
        self._writer.join(WATCH_SECONDS * 4)
        child = self._child
        if child is None:
            return None
        deadline = time.monotonic() + STOP_SEND_SECONDS
        room = select.poll()
        room.register(child.frames, select.POLLOUT)
        while (
            self._written < len(self._held)
            and child.process.poll() is None
            and time.monotonic() < deadline
        ):
            room.poll(WATCH_SECONDS * 1000)
            self._write_held()
        with contextlib.suppress(OSError):
            child.process.stdin.close()
        try:
            child.process.wait(STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning(
                "llmops callback: the delivery process did not exit within %g s; killing it "
                "(undelivered traces wait in the spool)",
                STOP_WAIT_SECONDS,
            )
            child.process.kill()
        code = child.process.wait()
        child.close()
        self._child = None
        return code

    def _leave_to_parent(self) -> None:
        """In a forked process: drop the pipes, or the child would never see its end of
        file while the fork lives. The fork starts its own delivery process."""
        self._stopping = True
        if self._child is not None:
            self._child.close()
        for end in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(end)
