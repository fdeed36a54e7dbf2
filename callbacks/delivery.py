"""The delivery process: a child of each proxy process that drains the spool to Langfuse.

Delivery (claims, OTLP JSON, gzip, the HTTP export) costs the proxy's process about 0.8 ms
of CPU per request. At saturation the proxy is bound to one core by the GIL, so that work
would come out of its requests per second; in a child process it runs on another core
(bench/ measures the proxy with and without the callback). runtime.py starts it:

    python /path/to/callbacks/delivery.py        (environment: the proxy's)

Its stdin is the wake-up line: each byte received means new spans were spooled; end of file
means the proxy process is stopping or gone, and the child delivers what is ready for at most
LAST_ROUNDS_SECONDS more, then exits 0. What it leaves waits in the spool for the next one.
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
import sys
import time
from collections.abc import Mapping
from threading import Thread

if __name__ == "__main__" and not __package__:
    from langfuse_v4 import load_package

    __package__ = load_package().__name__

from . import mapping
from .exporter import LangfuseClient, RetryPolicy
from .settings import CallbackSettings
from .spool import Spool, owner_id
from .worker import DeliveryWorker

log = logging.getLogger("llmops.callback")

LAST_ROUNDS_SECONDS = 3.0
LOG_FORMAT = "%(asctime)s %(levelname)s llmops delivery[%(process)d]: %(message)s"
_READ_BYTES = 4096


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


def relay_wakes(wakes: int, worker: DeliveryWorker) -> None:
    """Wake `worker` for each read from the file descriptor `wakes`; stop it at end of file."""
    try:
        while os.read(wakes, _READ_BYTES):
            worker.wake()
    finally:
        worker.stop()


def serve(wakes: int, environ: Mapping[str, str]) -> None:
    """Deliver until `wakes` ends (replaying any backlog at once), then the last rounds."""
    settings = CallbackSettings.from_env(environ)
    worker = build_worker(settings, open_spool(settings))
    Thread(target=relay_wakes, args=(wakes, worker), name="llmops-wakes", daemon=True).start()
    worker.run()
    worker.finish(LAST_ROUNDS_SECONDS)


def main() -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format=LOG_FORMAT)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        serve(sys.stdin.fileno(), os.environ)
    except Exception:
        log.exception("the llmops delivery process failed; spans wait in the spool")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
