"""An HTTP(S) forward proxy that forwards nothing: it records where a process tried to go.

Give the proxy under test `HTTPS_PROXY`/`HTTP_PROXY` pointing here (loopback stays direct
through `NO_PROXY`): every client that honours the standard proxy variables, as LiteLLM's
httpx and aiohttp clients do, then announces its destination to this server first
(`CONNECT host:443` for HTTPS, an absolute URL for plain HTTP) instead of resolving and
dialling it. The attempt is recorded and answered `403`, so nothing leaves the machine and
the caller sees a failed connection, as behind a firewall.

    with recording_egress() as egress:
        ... start the proxy with egress.environment() ...
        assert egress.destinations() == []
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_REFUSAL = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass
class EgressLog:
    """Destinations announced to the recorder, in arrival order (`host:port` or a URL)."""

    url: str
    _seen: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, destination: str) -> None:
        with self._lock:
            self._seen.append(destination)

    def destinations(self) -> list[str]:
        with self._lock:
            return list(self._seen)

    def environment(self) -> dict[str, str]:
        """Proxy variables for the process under test, both spellings."""
        names = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")
        return dict.fromkeys(names, self.url)


@contextmanager
def recording_egress() -> Iterator[EgressLog]:
    log_holder: list[EgressLog] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            request_line = self.rfile.readline(8192).decode("latin-1").split()
            if len(request_line) >= 2:
                log_holder[0].record(request_line[1])
            self.wfile.write(_REFUSAL)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    log = EgressLog(f"http://127.0.0.1:{server.server_address[1]}")
    log_holder.append(log)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield log
    finally:
        server.shutdown()
        server.server_close()
