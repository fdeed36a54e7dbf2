"""MinIO stand-in for the test bed: moto's S3 server on MinIO's port, with bucket `langfuse`.

Production's minio entrypoint creates the bucket before the server starts; this stand-in
creates it through the S3 API (with the root credentials) before it reports healthy. It also
answers MinIO's unauthenticated health endpoints, which `mc ready local`, the production
healthcheck, asks: 200 once the bucket exists, 503 before.

    python -m tests.e2e.testbed.s3 [--port 9000]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

import boto3
from moto.server import create_backend_app
from werkzeug.serving import make_server

BUCKET = "langfuse"
HEALTH_PATHS = frozenset(
    (
        "/minio/health/live",
        "/minio/health/ready",
        "/minio/health/cluster",
        "/minio/health/cluster/read",
    )
)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def with_health(s3_app: WsgiApp, ready: threading.Event) -> WsgiApp:
    """MinIO's health endpoints in front of the S3 API."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") not in HEALTH_PATHS:
            return s3_app(environ, start_response)
        status = "200 OK" if ready.is_set() else "503 Service Unavailable"
        start_response(status, [("Content-Length", "0"), ("Server", "MinIO")])
        return [b""]

    return app


def create_bucket(port: int) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id=os.environ.get("MINIO_ROOT_USER", "minio"),
        aws_secret_access_key=os.environ["MINIO_ROOT_PASSWORD"],
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=BUCKET)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.testbed.s3")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=9000)
    options = parser.parse_args(argv)
    # Healthchecks every few seconds would flood the container log, as MinIO's do not.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    ready, stopping = threading.Event(), threading.Event()
    app = with_health(create_backend_app("s3"), ready)
    server = make_server(options.host, options.port, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        # PID 1 in a container ignores SIGTERM unless it handles it: `docker stop` would wait.
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    create_bucket(options.port)
    ready.set()
    print(f"listening on http://{options.host}:{options.port}, bucket {BUCKET}", flush=True)
    stopping.wait()
    server.shutdown()


if __name__ == "__main__":
    main()
