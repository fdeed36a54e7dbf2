"""N LiteLLM replicas on one host: what compose needs to know beyond `.env`.

With one proxy its state stays where it always was (SQLite ledger, router state in memory).
With more, every replica must see the same cooldowns, rpm/tpm counters and budget spend, or
limits hold per replica instead of per key: both go to proxy-redis (compose/litellm.yml).
Compose cannot branch on a number, so the kit computes these variables on every compose call
(ComposeProject.environment), as it does for the keys file's folder.
"""

from __future__ import annotations

from collections.abc import Mapping

REPLICAS_VARIABLE = "LLMOPS_PROXY_REPLICAS"
REDIS_PASSWORD_VARIABLE = "LLMOPS_PROXY_REDIS_PASSWORD"
REDIS_SERVICE = "proxy-redis"
REDIS_PORT = 6379
# Computed, not settings: read by compose/litellm.yml only.
ROUTER_REDIS_HOST_VARIABLE = "LLMOPS_ROUTER_REDIS_HOST"
SHARED_LEDGER_URL_VARIABLE = "LLMOPS_SHARED_LEDGER_URL"
BALANCER_SERVICE = "litellm-lb"


def replica_count(settings: Mapping[str, str]) -> int:
    """LLMOPS_PROXY_REPLICAS (settings.py validated its shape); 1 when unset."""
    return int(settings.get(REPLICAS_VARIABLE) or "1")


def shared_ledger_url(settings: Mapping[str, str]) -> str:
    """The ledger URL of proxy-redis (database 0; the router uses the same database, under
    its own key names). Holds the password: never print it."""
    password = settings.get(REDIS_PASSWORD_VARIABLE, "")
    return f"redis://:{password}@{REDIS_SERVICE}:{REDIS_PORT}/0"


def compose_variables(settings: Mapping[str, str]) -> dict[str, str]:
    """Router Redis host and the shared ledger URL when replicas > 1, empty otherwise.

    An LLMOPS_LEDGER_URL the user set wins over the shared one (compose/litellm.yml).
    """
    if replica_count(settings) <= 1:
        return {ROUTER_REDIS_HOST_VARIABLE: "", SHARED_LEDGER_URL_VARIABLE: ""}
    return {
        ROUTER_REDIS_HOST_VARIABLE: REDIS_SERVICE,
        SHARED_LEDGER_URL_VARIABLE: shared_ledger_url(settings),
    }


def replica_number(container_name: str) -> int | None:
    """The replica number compose gives a container (`<project>-<service>-<n>`), if any."""
    _, _, tail = container_name.rpartition("-")
    return int(tail) if tail.isdigit() else None
