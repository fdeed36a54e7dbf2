"""Budgets and router state shared by every proxy pod: the Redis of LLMOPS_LEDGER_URL.

Compose gives N > 1 replicas its own proxy-redis; a cluster has none, and the LiteLLM chart's
`redis.enabled` (a Bitnami subchart) sets REDIS_HOST / REDIS_PORT / REDIS_PASSWORD, which the
kit's config does not read. So the Redis is one the user provides, named once in .env by
LLMOPS_LEDGER_URL: the ledger reads the URL itself, and the router settings of
litellm_config.yml (redis_host from LLMOPS_ROUTER_REDIS_HOST, port 6379, redis_password from
LLMOPS_PROXY_REDIS_PASSWORD) get its host and password, as compose wires proxy-redis.
Without it each pod would keep its own SQLite ledger and in-memory rpm/tpm and cooldowns:
limits per pod, not per key. That is refused when more than one pod is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .errors import ConfigError
from .replicas import (
    REDIS_PASSWORD_VARIABLE,
    REDIS_PORT,
    REPLICAS_VARIABLE,
    ROUTER_REDIS_HOST_VARIABLE,
    replica_count,
)

LEDGER_URL_VARIABLE = "LLMOPS_LEDGER_URL"
_FIX = (
    "Set LLMOPS_LEDGER_URL in .env to redis://:PASSWORD@HOST:6379/DB, a Redis every proxy pod "
    "reaches (the README's Kubernetes section), then export again."
)


@dataclass(frozen=True)
class SharedRedis:
    """Where the router reaches the user's Redis: a plain host, and a password for the Secret."""

    host: str
    password: str


def shared_redis(values: Mapping[str, str]) -> SharedRedis | None:
    """The Redis every pod shares, from LLMOPS_LEDGER_URL; None when unset.

    Refuses more than one replica without it, and a URL the router settings cannot follow.
    Errors never quote the URL: it holds the password.
    """
    url = values.get(LEDGER_URL_VARIABLE, "")
    if not url:
        if replica_count(values) > 1:
            raise ConfigError(
                f"{REPLICAS_VARIABLE}={replica_count(values)} but LLMOPS_LEDGER_URL is empty: "
                "in a cluster there is no proxy-redis, so every proxy pod would count budgets, "
                "rpm/tpm and cooldowns on its own",
                fix=_FIX,
            )
        return None
    parts = urlsplit(url)
    if parts.scheme != "redis":
        raise ConfigError(
            f"LLMOPS_LEDGER_URL uses {parts.scheme or 'no'} scheme; the router settings of "
            "litellm_config.yml connect with plain redis:// (no TLS)",
            fix=_FIX,
        )
    try:
        port = parts.port or REDIS_PORT
    except ValueError:
        port = None
    if not parts.hostname or port != REDIS_PORT:
        raise ConfigError(
            "LLMOPS_LEDGER_URL must name a host on port 6379: litellm_config.yml's router "
            "settings read the host from the environment and fix the port at 6379",
            fix=_FIX,
        )
    return SharedRedis(parts.hostname, unquote(parts.password or ""))


def environment(redis: SharedRedis) -> tuple[dict[str, str], dict[str, str]]:
    """The router's Redis variables: (plain, secret). The password replaces compose's
    proxy-redis one, which means nothing in a cluster."""
    return {ROUTER_REDIS_HOST_VARIABLE: redis.host}, {REDIS_PASSWORD_VARIABLE: redis.password}
