"""The delivery process: a child of each proxy process that records and delivers its traces.

Recording (redaction, spans, the spool write) and delivery (sync, claims, OTLP JSON, gzip,
the HTTP export) cost about 1 and 1.2 ms of CPU per 100 KB request, and far more when run in
the proxy's process beside LiteLLM. At saturation the proxy is bound to one core by the GIL,
so that work would come out of its requests per second; in a child process it runs on
another core (bench/ measures the proxy with and without the callback). runtime.py starts it:

    python /path/to/callbacks/delivery.py        (environment: the proxy's)

Its stdin carries frames (a 4-byte length, then that many bytes): an event the proxy's hook
handed off (recorder.py's events, as JSON), which the child records (redacts, maps, spools)
and then delivers; or an empty frame, a wake-up: the proxy spooled spans itself. End of file
means the proxy process is stopping or gone: the child records what the pipe still holds,
delivers what is ready for at most LAST_ROUNDS_SECONDS more, then exits 0. What it leaves
waits in the spool for the next one.
Its log goes to stderr, the proxy's log. Ctrl-C, which reaches the whole process group, is
ignored: the proxy's exit is the signal to stop, so the last rounds still run.

Run as a script, it first imports its own directory as the private package LiteLLM's loader
uses (langfuse_v4.load_package; the script's directory is sys.path[0]), so that the relative
imports below work there as they do in the proxy (PEP 366).
"""

from __future__ import annotations

import logging
import os
import signal
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
from .exporter import LangfuseClient, RetryPolicy
from .recorder import Recorder, decode_event
from .redaction import Redactor
from .settings import CallbackSettings
from .spool import Spool, owner_id
from .worker import DeliveryWorker

log = logging.getLogger("llmops.callback")

LAST_ROUNDS_SECONDS = 3.0
LOG_FORMAT = "%(asctime)s %(levelname)s llmops delivery[%(process)d]: %(message)s"
_FRAME_HEADER = struct.Struct(">I")


def frame(payload: bytes) -> bytes:
    """`payload` as one frame of the pipe to the delivery process."""
    return _FRAME_HEADER.pack(len(payload)) + payload


WAKE_FRAME = frame(b"")


def read_frames(stream: BinaryIO) -> Iterator[bytes]:
    """The payloads of the frames on `stream`, until its end."""
    while len(header := stream.read(_FRAME_HEADER.size)) == _FRAME_HEADER.size:
        (length,) = _FRAME_HEADER.unpack(header)
        payload = stream.read(length)
        if len(payload) < length:
            return  # the writer died mid-frame
        yield payload


class Wakeable(Protocol):
    def wake(self) -> None: ...

    def stop(self) -> None: ...


def open_spool(settings: CallbackSettings, *, deferred_sync: bool = False) -> Spool:
    """The spool, opened alike by the proxy (which appends, `deferred_sync=True`) and its
    child (which delivers, and syncs and compacts the spool)."""
    return Spool(
        settings.spool_dir,
        max_bytes=settings.spool_max_bytes,
        shrink=mapping.without_bodies,
        settle_seconds=settings.in_doubt_settle_seconds,
        deferred_sync=deferred_sync,
    )


def build_worker(settings: CallbackSettings, spool: Spool) -> DeliveryWorker:
    """The worker and its Langfuse client, as the settings say."""
    client = LangfuseClient(
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
    )


def relay_events(stream: BinaryIO, recorder: Recorder, worker: Wakeable) -> None:
    """Record each event read from `stream` and wake `worker` after every frame; stop it at
    the end of the stream. An event that cannot be recorded is logged by its error's type
    only (its message may quote the request) and skipped."""
    try:
        for payload in read_frames(stream):
            if payload:
                try:
                    decode_event(payload).apply_to(recorder)
                except Exception as problem:
                    log.error("an event could not be recorded (%s)", type(problem).__name__)
            worker.wake()
    finally:
        worker.stop()


def serve(stream: BinaryIO, environ: Mapping[str, str]) -> None:
    """Record and deliver until `stream` ends (replaying any backlog at once), then the last
    rounds."""
    settings = CallbackSettings.from_env(environ)
    worker = build_worker(settings, open_spool(settings))
    # Recorded events are synced by the worker's next round (`flush`), as the proxy's are.
    appending = open_spool(settings, deferred_sync=True)
    recorder = Recorder(settings, appending, Redactor.from_env(environ), wake=worker.wake)
    relay = Thread(
        target=relay_events, args=(stream, recorder, worker), name="llmops-events", daemon=True
    )
    relay.start()
    worker.run()
    worker.finish(LAST_ROUNDS_SECONDS)


def main() -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format=LOG_FORMAT)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        serve(sys.stdin.buffer, os.environ)
    except Exception:
        log.exception("the llmops delivery process failed; spans wait in the spool")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
