"""Ports: one held by a stranger fails with the holder and a free port; ours passes."""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from llmops_kit.doctor import Status
from tests.unit.doctor.conftest import ContextFactory, run_check, set_line


@pytest.fixture
def stranger() -> Iterator[int]:
    """A listening socket of this process: something that is not the proxy."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def alive_proxy() -> Iterator[int]:
    """A server that answers /health/liveliness as LiteLLM does."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'"I\'m alive!"'
            self.send_response(200 if self.path == "/health/liveliness" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_port_held_by_another_process_fails_naming_it_and_a_free_port(
    env_path: Path, make_context: ContextFactory, stranger: int
) -> None:
    set_line(env_path, "LITELLM_PORT", str(stranger))
    finding = run_check(make_context(native=True), "host.ports")
    assert finding.status is Status.FAIL
    assert f"127.0.0.1:{stranger} (LITELLM_PORT) is held by" in finding.message
    assert f"(pid {os.getpid()})" in finding.message
    assert f"kill {os.getpid()}" in finding.fix
    line = re.search(r"set (LITELLM_PORT=\d+)", finding.fix)
    assert line is not None
    name, value = line[1].split("=")
    set_line(env_path, name, value)
    assert run_check(make_context(native=True), "host.ports").status is Status.OK


def test_a_port_held_by_a_live_proxy_is_ours(
    env_path: Path, make_context: ContextFactory, alive_proxy: int
) -> None:
    set_line(env_path, "LITELLM_PORT", str(alive_proxy))
    assert run_check(make_context(native=True), "host.ports").status is Status.OK
