"""Run the Bedrock stand-in as a subprocess for a test, a benchmark or the test bed.

    with running_bedrock(faults={"us.anthropic.claude-sonnet-4-6": "throttle:1"}) as bedrock:
        client = bedrock.client()            # boto3 bedrock-runtime, signed, no retries
        ...
        assert bedrock.calls()[0]["status"] == 429

The process listens on a free loopback port it picks itself, with a fresh random key pair
unless one is given; the secret travels in the environment, never on the command line.
"""

from __future__ import annotations

import os
import secrets
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_REGION = "us-east-1"
_READY_PREFIX = "listening on "


@dataclass
class RunningBedrock:
    """A started stand-in: where it listens, what it accepts, and its control API."""

    url: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    bearer_token: str | None = field(default=None, repr=False)
    region: str = DEFAULT_REGION

    @property
    def port(self) -> int:
        return httpx.URL(self.url).port or 80

    def calls(self) -> list[dict[str, Any]]:
        """Every model call received since start or the last reset, oldest first."""
        return self._control("GET", "/_fake/calls")

    def set_fault(
        self,
        model_id: str,
        kind: str | None,
        count: int | None = None,
        *,
        delay_ms: int | None = None,
        message: str | None = None,
    ) -> None:
        """Fail calls to `model_id` (`*`: any model) as `kind`; the first `count` only if given.
        `kind=None` clears the model's fault."""
        order: dict[str, Any] = {"model_id": model_id, "kind": kind, "count": count}
        if delay_ms is not None:
            order["delay_ms"] = delay_ms
        if message is not None:
            order["message"] = message
        self._control("POST", "/_fake/faults", order)

    def reset(self) -> None:
        """Forget calls and cached prompts; faults go back to those given at start."""
        self._control("POST", "/_fake/reset")

    def client(self, **config: Any) -> Any:
        """A boto3 bedrock-runtime client signed with the accepted key pair, retries off."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "bedrock-runtime",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(retries={"total_max_attempts": 1}, **config),
        )

    def _control(self, method: str, path: str, order: Mapping[str, Any] | None = None) -> Any:
        response = httpx.request(method, self.url + path, json=order, timeout=10)
        response.raise_for_status()
        return response.json()


@contextmanager
def running_bedrock(
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    bearer_token: str | None = None,
    faults: Mapping[str, str] | None = None,
    latency_ms: int = 0,
    token_interval_ms: int = 0,
    slow_first_byte_ms: int | None = None,
    known_models: tuple[str, ...] = (),
    host: str = "127.0.0.1",
    startup_timeout_s: float = 20.0,
) -> Iterator[RunningBedrock]:
    """Start the stand-in, wait until it answers, yield its handle, stop it on exit.

    `faults` maps a model id to `KIND[:COUNT]`, as the --fault option takes them.
    """
    access_key_id = access_key_id or f"AKIAFAKE{secrets.token_hex(6).upper()}"
    secret_access_key = secret_access_key or secrets.token_hex(20)
    environment = {
        **os.environ,
        "FAKE_BEDROCK_ACCESS_KEY_ID": access_key_id,
        "FAKE_BEDROCK_SECRET_ACCESS_KEY": secret_access_key,
    }
    if bearer_token:
        environment["FAKE_BEDROCK_BEARER_TOKEN"] = bearer_token
    command = [sys.executable, "-m", "tests.fakes.bedrock", "--host", host, "--port", "0"]
    command += ["--latency-ms", str(latency_ms), "--token-interval-ms", str(token_interval_ms)]
    for model_id, spec in (faults or {}).items():
        command += ["--fault", f"{model_id}={spec}"]
    if slow_first_byte_ms is not None:
        command += ["--slow-first-byte-ms", str(slow_first_byte_ms)]
    for model_id in known_models:
        command += ["--known-model", model_id]

    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=environment, stdout=subprocess.PIPE, text=True
    )
    try:
        url = _wait_until_ready(process, startup_timeout_s)
        yield RunningBedrock(url, access_key_id, secret_access_key, bearer_token)
    finally:
        _stop(process)


def _wait_until_ready(process: subprocess.Popen[str], timeout_s: float) -> str:
    """Read the announced URL from the child's stdout, then wait for /_fake/health."""
    deadline = time.monotonic() + timeout_s
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], timeout_s)
    line = process.stdout.readline() if readable else ""
    if not line.startswith(_READY_PREFIX):
        raise RuntimeError(
            f"the Bedrock stand-in did not start (exit code {process.poll()}, "
            f"said {line.strip()!r}); its stderr is above"
        )
    url = line.removeprefix(_READY_PREFIX).strip()
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_fake/health", timeout=2).status_code == 200:
                return url
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"the Bedrock stand-in at {url} did not answer within {timeout_s} s")


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
