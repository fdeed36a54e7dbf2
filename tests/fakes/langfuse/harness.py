"""Run the Langfuse stand-in as a subprocess on a free loopback port, for tests.

    with running_langfuse() as langfuse:
        ...export to f"{langfuse.url}/api/public/otel/v1/traces" with langfuse.basic_auth...
        assert len(langfuse.spans()) == 1
        langfuse.observations(trace_id=...)      # through the public read API

The handle stops the process on exit, whatever happens. `stop()` and `start()` restart it on the
same port; give `store_path` to keep its data across the restart.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[3]
HOST = "127.0.0.1"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
CONTROL_TIMEOUT_S = 10.0
ALL_FIELD_GROUPS = "core,basic,time,io,metadata,model,usage,prompt,metrics,trace_context"


class LangfuseStandInError(RuntimeError):
    """The stand-in did not start, or its control API refused a request."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class LangfuseStandIn:
    """A handle on one stand-in process: its address, keys, and control API."""

    def __init__(
        self,
        *,
        mode: str = "normal",
        worker: bool = False,
        max_body_bytes: int | None = None,
        store_path: Path | None = None,
        ingestion_delay_s: float = 0.0,
        log_dir: Path,
    ) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.public_key = f"pk-lf-{uuid.uuid4()}"
        self.secret_key = f"sk-lf-{uuid.uuid4()}"
        self.project_id = f"project-{uuid.uuid4().hex[:8]}"
        self.worker = worker
        self._log_path = log_dir / f"langfuse-{self.port}.log"
        self._argv = [
            sys.executable,
            "-m",
            "tests.fakes.langfuse",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--mode",
            mode,
            "--ingestion-delay-s",
            str(ingestion_delay_s),
        ]
        if worker:
            self._argv.append("--worker")
        if max_body_bytes is not None:
            self._argv += ["--max-body-bytes", str(max_body_bytes)]
        if store_path is not None:
            self._argv += ["--store", str(store_path)]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def basic_auth(self) -> str:
        """The Authorization header value for the project keys."""
        token = base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
        return f"Basic {token}"

    @property
    def otlp_endpoint(self) -> str:
        return f"{self.url}/api/public/otel/v1/traces"

    def start(self) -> None:
        """Start the process (again, on the same port) and wait until it answers."""
        environment = {
            **os.environ,
            "LANGFUSE_INIT_PROJECT_PUBLIC_KEY": self.public_key,
            "LANGFUSE_INIT_PROJECT_SECRET_KEY": self.secret_key,
            "LANGFUSE_INIT_PROJECT_ID": self.project_id,
            "LANGFUSE_INIT_ORG_ID": "fake-org",
        }
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self._argv, cwd=REPO_ROOT, env=environment, stdout=log, stderr=log
            )
        self._wait_until_ready()

    def stop(self) -> None:
        """Stop the process: SIGTERM, then SIGKILL if it lingers."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _wait_until_ready(self) -> None:
        path = "/api/health" if self.worker else "/_fake/status"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                break
            try:
                if httpx.get(self.url + path, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        log_tail = self._log_path.read_text(errors="replace")[-2000:]
        raise LangfuseStandInError(f"the Langfuse stand-in did not start:\n{log_tail}")

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(
            method, f"{self.url}/_fake/{path}", json=body, timeout=CONTROL_TIMEOUT_S
        )
        if response.status_code != 200:
            raise LangfuseStandInError(f"/_fake/{path}: {response.status_code} {response.text}")
        return response.json()

    def otlp_requests(self) -> list[dict[str, Any]]:
        """Every export request received, in order (see server: GET /_fake/otlp-requests)."""
        return self._control("GET", "otlp-requests")

    def spans(self) -> list[dict[str, Any]]:
        """Every stored span, decoded, duplicates included."""
        return self._control("GET", "spans")

    def set_mode(
        self,
        mode: str,
        *,
        status: int = 503,
        retry_after: int | None = None,
        count: int | None = None,
        store: bool = False,
    ) -> dict[str, Any]:
        body = {
            "mode": mode,
            "status": status,
            "retry_after": retry_after,
            "count": count,
            "store": store,
        }
        return self._control("POST", "mode", body)

    def set_read_fault(self, status: int | None) -> None:
        """Make the read API answer `status` (an HTTP error) until called with None."""
        self._control("POST", "read-fault", {"status": status})

    def reset(self) -> None:
        self._control("POST", "reset")

    def post_otlp_json(self, body: dict[str, Any]) -> None:
        """Export an OTLP/JSON request as the kit's callback does (ingestion version 4)."""
        response = httpx.post(
            self.otlp_endpoint,
            json=body,
            headers={"Authorization": self.basic_auth, "x-langfuse-ingestion-version": "4"},
            timeout=CONTROL_TIMEOUT_S,
        )
        response.raise_for_status()

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        """The trace as Langfuse's UI aggregates it from its events (see traces), or None."""
        response = httpx.get(f"{self.url}/_fake/traces/{trace_id}", timeout=CONTROL_TIMEOUT_S)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise LangfuseStandInError(f"/_fake/traces: {response.status_code} {response.text}")
        return response.json()

    def observations(self, **filters: Any) -> list[dict[str, Any]]:
        """Every observation the public v2 API returns for the filters, all pages, all fields.

        Filters are the API's query parameters in snake case: trace_id, session_id, user_id,
        name, type, from_start_time (ISO text)...
        """
        params: dict[str, Any] = {"fields": ALL_FIELD_GROUPS, "limit": 1000}
        params |= {_camel(name): value for name, value in filters.items()}
        found: list[dict[str, Any]] = []
        while True:
            response = httpx.get(
                f"{self.url}/api/public/v2/observations",
                params=params,
                headers={"Authorization": self.basic_auth},
                timeout=CONTROL_TIMEOUT_S,
            )
            response.raise_for_status()
            page = response.json()
            found += page["data"]
            if not page["meta"].get("cursor"):
                return found
            params["cursor"] = page["meta"]["cursor"]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@contextmanager
def running_langfuse(
    *,
    mode: str = "normal",
    worker: bool = False,
    max_body_bytes: int | None = None,
    store_path: Path | None = None,
    ingestion_delay_s: float = 0.0,
) -> Iterator[LangfuseStandIn]:
    """A started stand-in, stopped on exit; its log goes to a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="langfuse-stand-in-") as log_dir:
        stand_in = LangfuseStandIn(
            mode=mode,
            worker=worker,
            max_body_bytes=max_body_bytes,
            store_path=store_path,
            ingestion_delay_s=ingestion_delay_s,
            log_dir=Path(log_dir),
        )
        try:
            stand_in.start()
            yield stand_in
        finally:
            stand_in.stop()
