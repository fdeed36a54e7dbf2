"""The proxy configurations the benchmark compares, all derived from the real litellm_config.yml.

    a  no callbacks at all: LiteLLM's own cost
    b  LiteLLM's stock `langfuse_otel` callback exporting to the Langfuse stand-in
    c  the kit's callbacks as litellm_config.yml lists them (fallback policy and the
       langfuse_v4 handler: enrich, redact, spool, export to the stand-in)
    d  c with the kit's production settings (PRODUCTION_ENVIRONMENT)
    e  c, the requests sent with a developer key that has a budget and an rpm limit, so every
       request is admitted and settled in the SQLite ledger (callbacks/limits.py)
    f  c, the requests sent with a developer key without limits: e/f is what the limits cost,
       where e/c also holds what LiteLLM does for any non-admin key

b keeps the kit's other callbacks and swaps only the logging callback, so c/b compares the
two loggers and nothing else. Every configuration runs the same routes, retry policy and
authentication; only `litellm_settings.callbacks` and the environment differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import yaml

from tests.integration.proxy_harness import REPOSITORY_CONFIG

KIT_LOGGING_CALLBACK = "callbacks.langfuse_v4.handler"
STOCK_LOGGING_CALLBACK = "langfuse_otel"

# What the kit runs in production where LiteLLM's defaults differ (compose/litellm.yml).
# LITELLM_LOG=ERROR, as LiteLLM's production guide advises: no access line (scanned for
# secrets, then written) on every request; Langfuse records each request anyway. Kept at
# LiteLLM's defaults: uvloop (its CLI picks it already) and one worker (NUM_WORKERS=2 on two
# cores measured slower here, with 2.5 times the memory: the cores are shared with Langfuse).
PRODUCTION_ENVIRONMENT: Mapping[str, str] = {"LITELLM_LOG": "ERROR"}


class LangfuseEndpoint(Protocol):
    """What a configuration needs from the Langfuse stand-in (its harness handle)."""

    url: str
    public_key: str
    secret_key: str


@dataclass(frozen=True)
class Configuration:
    """One way of running the proxy: its callbacks list and its extra environment."""

    key: str
    title: str
    callbacks: tuple[str, ...]
    environment: Mapping[str, str] = field(default_factory=dict)
    # Send with this keys-file entry (a developer key) instead of the master key.
    developer_key: Mapping[str, object] | None = None

    @property
    def exports_traces(self) -> bool:
        return any(
            name in self.callbacks for name in (KIT_LOGGING_CALLBACK, STOCK_LOGGING_CALLBACK)
        )

    def proxy_environment(self, langfuse: LangfuseEndpoint) -> dict[str, str]:
        """Environment overrides for the proxy: where traces go, then the configuration's own."""
        env: dict[str, str] = {}
        if self.exports_traces:
            env |= {
                "LANGFUSE_HOST": langfuse.url,
                "LANGFUSE_PUBLIC_KEY": langfuse.public_key,
                "LANGFUSE_SECRET_KEY": langfuse.secret_key,
            }
        return env | dict(self.environment)


def kit_callbacks() -> tuple[str, ...]:
    """The callbacks litellm_config.yml lists, with the kit's logging callback among them."""
    document = yaml.safe_load(REPOSITORY_CONFIG.read_text(encoding="utf-8"))
    listed = list((document.get("litellm_settings") or {}).get("callbacks") or [])
    if KIT_LOGGING_CALLBACK not in listed:
        listed.append(KIT_LOGGING_CALLBACK)
    return tuple(listed)


def configurations() -> dict[str, Configuration]:
    """Every configuration by key, in the order they run."""
    kit = kit_callbacks()
    stock = tuple(STOCK_LOGGING_CALLBACK if name == KIT_LOGGING_CALLBACK else name for name in kit)
    return {
        "a": Configuration("a", "proxy, no callbacks", ()),
        "b": Configuration("b", "stock langfuse_otel", stock),
        "c": Configuration("c", "kit callback", kit),
        "d": Configuration("d", "kit callback, production settings", kit, PRODUCTION_ENVIRONMENT),
        "e": Configuration("e", "kit callback, a key with limits", kit, developer_key=LIMITED_KEY),
        "f": Configuration(
            "f", "kit callback, a key without limits", kit, developer_key=UNLIMITED_KEY
        ),
    }


# Limits that every request passes (the figures measure the checks, not refusals).
LIMITED_KEY = {
    "user": "bench@example.com",
    "team": "bench",
    "budget_usd": 1_000_000,
    "rpm": 1_000_000,
}
LIMITED_TEAMS = {"bench": {"budget_usd": 1_000_000}}
UNLIMITED_KEY = {"user": "bench@example.com"}
