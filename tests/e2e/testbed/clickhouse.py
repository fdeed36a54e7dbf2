"""ClickHouse stand-in for the test bed: answers the HTTP probe as clickhouse-server does.

The production healthcheck (`wget --spider http://localhost:8123/ping`) runs unchanged
against it: GET or HEAD /ping (and /) answer 200 `Ok.` like ClickHouse's HTTP interface.
Nothing else of ClickHouse is needed: the Langfuse stand-in keeps traces itself.

    python -m tests.e2e.testbed.clickhouse [--port 8123]
"""

from __future__ import annotations

import argparse
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

OK_BODY = b"Ok.\n"
PROBE_PATHS = ("/", "/ping")


class ProbeHandler(BaseHTTPRequestHandler):
    """GET/HEAD /ping -> 200 `Ok.`; any other path -> 404, as ClickHouse answers it."""

    server_version = "ClickHouse-standin"

    def _answer(self, with_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        status, body = (200, OK_BODY) if path in PROBE_PATHS else (404, b"Not found\n")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Healthchecks every few seconds would flood the container log."""


def _stop(signum: int, frame: FrameType | None) -> None:
    # PID 1 in a container ignores SIGTERM unless it handles it: `docker stop` would wait.
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.testbed.clickhouse")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8123)
    options = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    with ThreadingHTTPServer((options.host, options.port), ProbeHandler) as server:
        print(f"listening on http://{options.host}:{options.port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
