"""The process's one Gate, wired from the environment at first use (auth and settlement share it).

LLMOPS_LEDGER_URL            redis://... to share the ledger between proxies; empty: SQLite
LLMOPS_LEDGER_DIR            the SQLite ledger's directory (default: beside the spool)
LLMOPS_LEDGER_UNAVAILABLE    refuse (default) or admit: limited keys when the ledger is down
LLMOPS_BUDGET_TIMEZONE       the zone of calendar periods (default UTC)
LLMOPS_BUDGET_OUTPUT_TOKENS  the output a request without max_tokens is reserved for
                             (default: the route's maximum output)
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from pathlib import Path

import litellm

from .ledger import Ledger, LedgerUnavailable, SqliteLedger
from .limits import Gate, GateSettings, zone_from
from .pricing import Prices

LEDGER_URL = "LLMOPS_LEDGER_URL"
LEDGER_DIR = "LLMOPS_LEDGER_DIR"
LEDGER_UNAVAILABLE = "LLMOPS_LEDGER_UNAVAILABLE"
BUDGET_TIMEZONE = "LLMOPS_BUDGET_TIMEZONE"
OUTPUT_TOKENS = "LLMOPS_BUDGET_OUTPUT_TOKENS"


def ledger_dir(environ: Mapping[str, str]) -> Path | None:
    if environ.get(LEDGER_DIR):
        return Path(environ[LEDGER_DIR])
    spool = environ.get("LLMOPS_SPOOL_DIR")
    return Path(spool).parent / "ledger" if spool else None


def open_ledger(environ: Mapping[str, str]) -> Ledger:
    """The ledger the environment names; LedgerUnavailable if it cannot be opened."""
    url = environ.get(LEDGER_URL, "")
    if url:
        from .ledger_redis import RedisLedger

        return RedisLedger(url)
    directory = ledger_dir(environ)
    if directory is None:
        raise LedgerUnavailable(f"neither {LEDGER_DIR} nor {LEDGER_URL} is set")
    return SqliteLedger(directory)


def settings_from(environ: Mapping[str, str]) -> GateSettings:
    cap = environ.get(OUTPUT_TOKENS, "")
    return GateSettings(
        zone=zone_from(environ.get(BUDGET_TIMEZONE, "")),
        output_cap=int(cap) if cap.isdigit() and int(cap) > 0 else None,
        admit_without_ledger=environ.get(LEDGER_UNAVAILABLE, "refuse").lower() == "admit",
    )


def _router_routes() -> dict[str, list[str]]:
    """Model group -> the LiteLLM models it and its fallbacks may reach, from the live router."""
    from litellm.proxy.proxy_server import llm_router

    if llm_router is None:
        return {}
    own: dict[str, list[str]] = {}
    for deployment in llm_router.get_model_list() or []:
        own.setdefault(deployment["model_name"], []).append(deployment["litellm_params"]["model"])
    routes = {group: list(models) for group, models in own.items()}
    for fallback in llm_router.fallbacks or []:
        for group, targets in fallback.items():
            for target in targets:
                routes.setdefault(group, []).extend(own.get(target, []))
    return routes


def _ledger(environ: Mapping[str, str]) -> Ledger:
    try:
        return open_ledger(environ)
    except LedgerUnavailable:
        raise
    except Exception as error:  # a bad URL, a missing package: the ledger is unavailable
        raise LedgerUnavailable(f"the ledger cannot be opened: {type(error).__name__}") from None


@functools.cache
def gate() -> Gate:
    environ = dict(os.environ)
    return Gate(
        lambda: _ledger(environ),
        Prices(_router_routes, litellm.model_cost),
        settings_from(environ),
        time.time,
    )
