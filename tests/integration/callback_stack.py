"""The real proxy with the kit's Langfuse callback, between the Bedrock and Langfuse stand-ins.

    with running_bedrock() as bedrock, running_langfuse() as langfuse:
        with open_callback_stack(tmp_path, bedrock, langfuse) as stack:
            call_id, reply = stack.chat("claude-sonnet-4-6", [{"role": "user", ...}])
            observations = stack.trace(call_id)

The proxy runs the repository's litellm_config.yml as it is, callbacks included, loaded by
path as in production.
Short export timeouts and backoff keep recovery tests quick; nothing else is changed.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from openai import OpenAI

from callbacks.spool_health import read_spool_health
from tests.fakes.bedrock.harness import RunningBedrock
from tests.fakes.langfuse.harness import LangfuseStandIn
from tests.integration.proxy_harness import RunningProxy, start_proxy, write_keys_file

DELIVERY_TIMEOUT_S = 120.0
CLIENT_TIMEOUT_S = 60.0
USER = "alice@example.com"
USER_KEY = "sk-test-callback-alice-0123456789abcdef"
USER_AGENT = "Cline/3.38.2"


def price_map() -> dict[str, Any]:
    """The pinned LiteLLM's own price map file, read without importing LiteLLM."""
    spec = find_spec("litellm")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "model_prices_and_context_window_backup.json"
    return json.loads(path.read_text(encoding="utf-8"))


def trace_id(call_id: str) -> str:
    return uuid.UUID(call_id).hex


@dataclass(frozen=True)
class CallbackStack:
    bedrock: RunningBedrock
    langfuse: LangfuseStandIn
    proxy: RunningProxy
    spool_dir: Path

    def client(self, user_agent: str = USER_AGENT, api_key: str = USER_KEY) -> OpenAI:
        return OpenAI(
            base_url=self.proxy.openai_url,
            api_key=api_key,
            max_retries=0,
            timeout=CLIENT_TIMEOUT_S,
            default_headers={"User-Agent": user_agent},
        )

    def chat(
        self, model: str, messages: list[dict[str, Any]], *, stream: bool = False, **extra: Any
    ) -> tuple[str, Any]:
        """One chat completion; returns LiteLLM's call id (the trace) and the reply (text)."""
        client = extra.pop("client", None) or self.client()
        options: dict[str, Any] = {"model": model, "messages": messages, **extra}
        if stream:
            options.update(stream=True, stream_options={"include_usage": True})
        raw = client.chat.completions.with_raw_response.create(**options)
        call_id = raw.headers["x-litellm-call-id"]
        reply = raw.parse()
        if stream:
            return call_id, "".join(
                chunk.choices[0].delta.content or "" for chunk in reply if chunk.choices
            )
        return call_id, reply.choices[0].message.content

    def health(self) -> dict[str, Any]:
        return read_spool_health(self.spool_dir)

    def wait_for_backlog(self, spans: int, timeout: float = DELIVERY_TIMEOUT_S) -> None:
        """Wait until `spans` are spooled (the hooks run just after each response)."""
        deadline = time.monotonic() + timeout
        while self.health()["backlog_spans"] < spans:
            assert time.monotonic() < deadline, (self.health(), self.proxy.log_tail())
            time.sleep(0.1)

    def wait_until_delivered(self, timeout: float = DELIVERY_TIMEOUT_S) -> dict[str, Any]:
        """Wait until the spool is empty; the last health report."""
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if health["backlog_spans"] == 0 or time.monotonic() > deadline:
                assert health["backlog_spans"] == 0, (health, self.proxy.log_tail())
                return health
            time.sleep(0.2)

    def trace(self, call_id: str, observations: int = 2) -> list[dict[str, Any]]:
        """The trace of one request as Langfuse's read API returns it (root first)."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT_S
        while True:
            found = self.langfuse.observations(trace_id=trace_id(call_id))
            if len(found) >= observations or time.monotonic() > deadline:
                assert len(found) >= observations, (found, self.health(), self.proxy.log_tail())
                return sorted(
                    found, key=lambda o: (o["parentObservationId"] is not None, o["startTime"])
                )


def _root_first(observation: dict[str, Any]) -> tuple[bool, str]:
    return (observation["parentObservationId"] is not None, observation["startTime"])


def callback_environment(langfuse: LangfuseStandIn, **extra: str) -> dict[str, str]:
    return {
        "LANGFUSE_HOST": langfuse.url,
        "LANGFUSE_PUBLIC_KEY": langfuse.public_key,
        "LANGFUSE_SECRET_KEY": langfuse.secret_key,
        "LANGFUSE_TRACING_ENVIRONMENT": "ci",
        "LLMOPS_EXPORT_TIMEOUT_SECONDS": "3",
        "LLMOPS_EXPORT_MAX_BACKOFF_SECONDS": "2",
        "LLMOPS_IN_DOUBT_SETTLE_SECONDS": "1",
        **extra,
    }


@contextmanager
def open_callback_stack(
    work_dir: Path,
    bedrock: RunningBedrock,
    langfuse: LangfuseStandIn,
    env_overrides: Mapping[str, str] | None = None,
) -> Iterator[CallbackStack]:
    """The proxy with the callback; its spool lives in `work_dir/spool` across restarts."""
    keys = write_keys_file(work_dir / "keys.yml", [{"key": USER_KEY, "user": USER}])
    environment = callback_environment(
        langfuse, LLMOPS_KEYS_FILE=str(keys), **dict(env_overrides or {})
    )
    with start_proxy(bedrock, work_dir, env_overrides=environment) as proxy:
        yield CallbackStack(bedrock, langfuse, proxy, work_dir / "spool")
