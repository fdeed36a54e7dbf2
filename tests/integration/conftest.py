"""Fixtures that run the real proxy (`manage_langfuse.py proxy`) against the Bedrock stand-in.

`proxy_stack` is shared by every module of this package that only sends requests that
succeed or are refused before routing (a proxy start costs seconds of CPU); modules that make
routes fail open their own with `open_stack`, since failed routes cool down inside the proxy.
`stack` hands one to a test with the stand-in's calls, prompt cache and faults reset.
Callback tests can reuse `start_proxy` from proxy_harness with their own callbacks list.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI

from tests.fakes.bedrock.harness import RunningBedrock, running_bedrock
from tests.integration.proxy_harness import (
    RECORD_FILE_VARIABLE,
    RunningProxy,
    start_proxy,
    write_keys_file,
)

# The kit's own callbacks minus the Langfuse exporter, plus the recorder these tests read.
PROXY_CALLBACKS = (
    "callbacks.fallback_policy.fallback_policy",
    "callbacks.request_guard.request_guard",
    "callbacks.beta_flags.beta_filter",
    "callbacks.count_tokens_guard.count_tokens_guard",
    "callbacks.anthropic_stream.stream_mender",
    "tests.integration.metadata_recorder.recorder",
)
RECORD_WAIT_S = 15.0


@dataclass(frozen=True)
class DeveloperKey:
    """An entry of the proxy's keys file."""

    key: str
    user: str
    team: str
    alias: str


DEVELOPER = DeveloperKey(
    key="sk-test-developer-alice-0123456789abcdef",
    user="alice@example.com",
    team="platform",
    alias="alice-laptop",
)


@dataclass(frozen=True)
class ProxyStack:
    """The stand-in, the proxy in front of it, and what the proxy's callbacks were given."""

    bedrock: RunningBedrock
    proxy: RunningProxy
    record_file: Path

    def openai(self, api_key: str | None = None) -> OpenAI:
        """An OpenAI client as Cline configures one; its own retries off, so calls count."""
        return OpenAI(
            base_url=self.proxy.openai_url,
            api_key=api_key or self.proxy.master_key,
            max_retries=0,
            timeout=60,
        )

    def records(self) -> list[dict[str, Any]]:
        if not self.record_file.exists():
            return []
        lines = self.record_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def wait_for_record(self, call_id: str) -> dict[str, Any]:
        """The standard logging object of one request, once the callbacks have run."""
        deadline = time.monotonic() + RECORD_WAIT_S
        while time.monotonic() < deadline:
            for record in self.records():
                if record and record.get("litellm_call_id") == call_id:
                    return record
            time.sleep(0.1)
        raise AssertionError(f"no callback saw request {call_id}:\n{self.proxy.log_tail()}")


@contextmanager
def open_stack(
    work_dir: Path, *, env_overrides: Mapping[str, str] | None = None
) -> Iterator[ProxyStack]:
    """A stand-in and the proxy in front of it, with DEVELOPER in the keys file;
    `env_overrides` win over the proxy's environment (e.g. a wrong AWS secret)."""
    keys_file = write_keys_file(
        work_dir / "keys.yml",
        [
            {
                "key": DEVELOPER.key,
                "user": DEVELOPER.user,
                "team": DEVELOPER.team,
                "alias": DEVELOPER.alias,
            }
        ],
    )
    record_file = work_dir / "records.jsonl"
    overrides = {
        "LLMOPS_KEYS_FILE": str(keys_file),
        RECORD_FILE_VARIABLE: str(record_file),
        **(env_overrides or {}),
    }
    with (
        running_bedrock() as bedrock,
        start_proxy(bedrock, work_dir, env_overrides=overrides, callbacks=PROXY_CALLBACKS) as proxy,
    ):
        yield ProxyStack(bedrock, proxy, record_file)


@pytest.fixture(scope="package")
def proxy_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyStack]:
    """One proxy shared by the modules whose tests leave no routes cooling down."""
    with open_stack(tmp_path_factory.mktemp("proxy")) as opened:
        yield opened


@pytest.fixture
def stack(proxy_stack: ProxyStack) -> ProxyStack:
    proxy_stack.bedrock.reset()
    return proxy_stack
