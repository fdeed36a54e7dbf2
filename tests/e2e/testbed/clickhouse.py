"""ClickHouse stand-in for the test bed: the HTTP interface on 8123, data kept in the volume.

What it does as clickhouse-server's HTTP interface does:
  - GET or HEAD /ping (and /) answer 200 `Ok.`: the production healthcheck runs unchanged;
  - a query comes in the `query` parameter or as the POST body; GET runs only reading
    statements (ClickHouse's HTTP GET is read-only: Code 164);
  - credentials come as X-ClickHouse-User / X-ClickHouse-Key headers, `user`/`password`
    parameters or HTTP basic auth, checked against CLICKHOUSE_USER / CLICKHOUSE_PASSWORD as
    the official image configures them; a wrong one answers 516 AUTHENTICATION_FAILED;
  - results come back TabSeparated, errors as `Code: N. DB::Exception: ...`.
What it does not: the SQL is SQLite's (simple CREATE, INSERT, SELECT count(*) read the same
in both; ENGINE clauses do not), kept in /var/lib/clickhouse/standin.sqlite3 so that the
data lives where ClickHouse keeps its own, in the volume `backup` copies and `restore`
replaces. The Langfuse stand-in keeps its traces itself; tests put rows here directly.

    python -m tests.e2e.testbed.clickhouse [--port 8123] [--data /var/lib/clickhouse]
"""

from __future__ import annotations

import argparse
import base64
import hmac
import os
import signal
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from urllib.parse import parse_qs, urlsplit

OK_BODY = b"Ok.\n"
PROBE_PATHS = ("/", "/ping")
DATABASE_FILE = "standin.sqlite3"
READING = ("select", "show", "describe", "exists", "with")


class Store:
    """One SQLite database, one statement at a time (ClickHouse serialises nothing, but
    a test bed needs no concurrency)."""

    def __init__(self, data_dir: Path) -> None:
        self._db = sqlite3.connect(
            data_dir / DATABASE_FILE, check_same_thread=False, isolation_level=None
        )
        self._lock = threading.Lock()

    def run(self, sql: str) -> bytes:
        with self._lock:
            rows = self._db.execute(sql).fetchall()
        return b"".join(
            ("\t".join("\\N" if v is None else str(v) for v in row) + "\n").encode() for row in rows
        )


class QueryHandler(BaseHTTPRequestHandler):
    server_version = "ClickHouse-standin"
    store: Store
    user: str
    password: str

    def _send(self, status: int, body: bytes, with_body: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/tab-separated-values; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _error(self, status: int, code: int, message: str) -> None:
        self._send(status, f"Code: {code}. DB::Exception: {message}\n".encode())

    def _credentials(self, params: dict[str, list[str]]) -> tuple[str, str]:
        user = self.headers.get("X-ClickHouse-User") or params.get("user", ["default"])[0]
        key = self.headers.get("X-ClickHouse-Key") or params.get("password", [""])[0]
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            user, _, key = base64.b64decode(basic[6:]).decode().partition(":")
        return user, key

    def _query(self, method: str) -> None:
        url = urlsplit(self.path)
        if method == "GET" and url.path in PROBE_PATHS and "query" not in url.query:
            self._send(200, OK_BODY)
            return
        if url.path != "/":
            self._send(404, b"Not found\n")
            return
        params = parse_qs(url.query)
        user, key = self._credentials(params)
        if user != self.user or not hmac.compare_digest(key.encode(), self.password.encode()):
            self._error(
                516,
                516,
                f"{user}: Authentication failed: password is incorrect, or there is "
                "no user with such name. (AUTHENTICATION_FAILED)",
            )
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        sql = " ".join(part for part in (params.get("query", [""])[0], body) if part).strip()
        if method == "GET" and not sql.lower().startswith(READING):
            self._error(400, 164, "Cannot execute query in readonly mode. (READONLY)")
            return
        try:
            self._send(200, self.store.run(sql))
        except sqlite3.Error as error:
            self._error(
                500, 62 if isinstance(error, sqlite3.OperationalError) else 1000, str(error)
            )

    def do_GET(self) -> None:
        self._query("GET")

    def do_POST(self) -> None:
        self._query("POST")

    def do_HEAD(self) -> None:
        path = urlsplit(self.path).path
        self._send(200 if path in PROBE_PATHS else 404, b"", with_body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Healthchecks every few seconds would flood the container log."""


def _stop(signum: int, frame: FrameType | None) -> None:
    # PID 1 in a container ignores SIGTERM unless it handles it: `docker stop` would wait.
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.testbed.clickhouse")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--data", type=Path, default=Path("/var/lib/clickhouse"))
    options = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    QueryHandler.store = Store(options.data)
    QueryHandler.user = os.environ.get("CLICKHOUSE_USER", "default")
    QueryHandler.password = os.environ.get("CLICKHOUSE_PASSWORD", "")
    with ThreadingHTTPServer((options.host, options.port), QueryHandler) as server:
        print(f"listening on http://{options.host}:{options.port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
