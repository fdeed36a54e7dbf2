"""The delivery process: a child of each proxy process, the one place traces are recorded.

Why a child (measured by bench/, figures in the README): at saturation the proxy is bound to
one core by the GIL, and recording (redaction, spans, the spool write) and delivery (OTLP
JSON, gzip, HTTP) would take that core's CPU from serving requests, even on a thread; in a
child they run on another core. The proxy side is handoff.py; runtime.py starts it:

    python /path/to/callbacks/delivery.py        (environment: the proxy's)

Its stdin carries frames: a header (payload length, sequence number) and the payload. A
frame numbered n > 0 is an event of the proxy's hook (recorder.py's events, as JSON): the
child records it (redacts, maps, spools) and then writes n, as 8 bytes, to its stdout: the
acknowledgement that lets the proxy forget the frame. A frame numbered 0 says how many
events the proxy dropped (its queue was full); the count goes to the spool for `status`.
The proxy sends unacknowledged frames again to the next child when one dies; the spool
skips spans it already holds (spool.py), so a frame recorded twice spools its spans once.
End of file means the proxy process is stopping or gone: the child records what the pipe
still holds, delivers what is ready for at most LAST_ROUNDS_SECONDS more, then exits 0.
What it leaves waits in the spool for the next one.
Its log goes to stderr, the proxy's log. Ctrl-C, which reaches the whole process group, is
ignored: the proxy's exit is the signal to stop, so the last rounds still run.

Run as a script, it first imports its own directory as the private package LiteLLM's loader
uses (langfuse_v4.load_package; the script's directory is sys.path[0]), so that the relative
imports below work there as they do in the proxy (PEP 366).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sqlite3
import struct
import sys
import time
from collections.abc import Iterator, Mapping
from threading import Thread
from typing import BinaryIO, Protocol

if __name__ == "__main__" and not __package__:
    from langfuse_v4 import load_package

    __package__ = load_package().__name__

from . import mapping
from .callback_settings import CallbackSettings
from .exporter import OtlpIngestionClient, RetryPolicy
from .recorder import Recorder, decode_event
from .redaction import Redactor
from .spool import Spool, owner_id
from .worker import DeliveryWorker

log = logging.getLogger("llmops.callback")

LAST_ROUNDS_SECONDS = 3.0
# Spans in doubt wait this many settle delays for the read API before they are sent again
# unchecked (worker.py).
IN_DOUBT_WAIT_SETTLES = 10
LOG_FORMAT = "%(asctime)s %(levelname)s llmops delivery[%(process)d]: %(message)s"
_FRAME_HEADER = struct.Struct(">IQ")
ACK = struct.Struct(">Q")
DROPPED = 0  # the sequence number of a frame that counts dropped events


def frame(sequence: int, payload: bytes) -> bytes:
    """`payload` as frame number `sequence` of the pipe to the delivery process."""
    return _FRAME_HEADER.pack(len(payload), sequence) + payload


def dropped_frame(count: int) -> bytes:
    """The frame that tells the delivery process `count` events were dropped."""
    return frame(DROPPED, str(count).encode())


def read_frames(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """The (sequence number, payload) of each frame on `stream`, until its end."""
    while len(header := stream.read(_FRAME_HEADER.size)) == _FRAME_HEADER.size:
        length, sequence = _FRAME_HEADER.unpack(header)
        payload = stream.read(length)
        if len(payload) < length:
            return  # the writer died mid-frame
        yield sequence, payload


class Stoppable(Protocol):
    def stop(self) -> None: ...


def open_spool(settings: CallbackSettings, *, deferred_sync: bool = False) -> Spool:
    """The spool, opened twice by the delivery process: to append (`deferred_sync=True`:
    the worker's next round syncs the appends) and to deliver (syncs and compacts)."""
    return Spool(
        settings.spool_dir,
        max_bytes=settings.spool_max_bytes,
        shrink=mapping.without_bodies,
        settle_seconds=settings.in_doubt_settle_seconds,
        deferred_sync=deferred_sync,
    )


def build_worker(settings: CallbackSettings, spool: Spool) -> DeliveryWorker:
    """The worker and its Langfuse client, as the settings say."""
    client = OtlpIngestionClient(
        host=settings.langfuse_host,
        public_key=settings.public_key,
        secret_key=settings.secret_key,
        timeout=settings.export_timeout_seconds,
        clock=time.time,
    )
    return DeliveryWorker(
        spool,
        client,
        owner=owner_id(),
        policy=RetryPolicy(maximum=settings.max_backoff_seconds),
        shrink=mapping.smaller,
        # Longer than any one export can take, so a live owner never loses its claim.
        lease_seconds=4 * settings.export_timeout_seconds + 30,
        max_doubt_seconds=IN_DOUBT_WAIT_SETTLES * settings.in_doubt_settle_seconds,
    )


def relay_events(
    stream: BinaryIO,
    recorder: Recorder,
    spool: Spool,
    worker: Stoppable,
    acknowledgements: BinaryIO,
) -> None:
    """Record each event read from `stream`, then acknowledge it; stop `worker` at the end
    of the stream. An event that cannot be recorded is logged by its error's type only (its
    message may quote the request), acknowledged and skipped: sent again, it would fail
    again. When the spool cannot be written (a full disk...), the relay stops without
    acknowledging, so the process exits and the proxy sends the event to the next one."""
    try:
        for sequence, payload in read_frames(stream):
            if sequence == DROPPED:
                spool.count_dropped_events(int(payload))
                continue
            try:
                decode_event(payload).apply_to(recorder)
            except (sqlite3.Error, OSError) as problem:
                log.error(
                    "the spool cannot be written (%s: %s); exiting, the proxy starts this "
                    "process again and hands it the events it did not record",
                    type(problem).__name__,
                    problem,
                )
                return
            except Exception as problem:
                log.error("an event could not be recorded (%s)", type(problem).__name__)
            with contextlib.suppress(OSError):  # the proxy is gone: end of stdin follows
                acknowledgements.write(ACK.pack(sequence))
    finally:
        worker.stop()


def serve(stream: BinaryIO, acknowledgements: BinaryIO, environ: Mapping[str, str]) -> None:
    """Record and deliver until `stream` ends (replaying any backlog at once), then the last
    rounds."""
    settings = CallbackSettings.from_env(environ)
    worker = build_worker(settings, open_spool(settings))
    appending = open_spool(settings, deferred_sync=True)
    recorder = Recorder(settings, appending, Redactor.from_env(environ), wake=worker.wake)
    relay = Thread(
        target=relay_events,
        args=(stream, recorder, appending, worker, acknowledgements),
        name="llmops-events",
        daemon=True,
    )
    relay.start()
    worker.run()
    worker.finish(LAST_ROUNDS_SECONDS)


def main() -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format=LOG_FORMAT)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Acknowledgements go to the real stdout; anything printed goes to the log instead.
    acknowledgements = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    try:
        serve(sys.stdin.buffer, acknowledgements, os.environ)
    except Exception:
        log.exception("the llmops delivery process failed; spans wait in the spool")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
