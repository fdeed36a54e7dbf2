"""Developer keys: the keys file as the proxy parses it, the ledger of their limits, budgets."""

from __future__ import annotations

import time
from typing import Any

from .. import developer_keys
from ..errors import ConfigError
from .context import DoctorContext
from .findings import Finding, Verdicts
from .registry import CheckGroup

group = CheckGroup("keys", "Developer keys and limits")


def _parsed(ctx: DoctorContext) -> Any:
    """The keys file as the proxy parses it (its KeysDocument), read once per run."""

    def probe() -> Any:
        doc = developer_keys.read(developer_keys.keys_path(ctx.settings))
        return developer_keys.check(doc, ctx.settings)

    return ctx.remember("keys.parsed", probe)


def _limited(ctx: DoctorContext) -> bool:
    limits = developer_keys.callbacks().limits
    return any(limits.needs_gate(entry) for entry in _parsed(ctx).entries.values())


def _spending(ctx: DoctorContext) -> dict[str, developer_keys.ScopeSpend]:
    return ctx.remember(
        "keys.spending",
        lambda: developer_keys.spending(
            _parsed(ctx).entries, ctx.settings, time.time(), ctx.environ
        ),
    )


@group.check(
    "keys.file",
    summary="every entry of the keys file (LLMOPS_KEYS_FILE) is accepted as the proxy parses "
    "it: keys, users, teams and limits; none duplicated, none the master key",
    remedy="correct the lines named (until then their keys answer 401); "
    "`python manage_langfuse.py keys list` shows the file",
)
def keys_file(ctx: DoctorContext, result: Verdicts) -> Finding:
    if not ctx.settings.get("LLMOPS_KEYS_FILE", ""):
        return result.ok("no keys file: only the master key is accepted")
    try:
        parsed = _parsed(ctx)
    except ConfigError as error:
        return result.fail(ctx.redact(error.message), error.fix or "Correct the keys file.")
    if parsed.problems:
        return result.fail(
            ctx.redact("; ".join(parsed.problems)),
            "Correct those lines; until then those keys are refused (401) and the rest work.",
        )
    limited = sum(1 for e in parsed.entries.values() if e.limits.limited or e.team_limits)
    return result.ok(
        f"{len(parsed.entries)} developer keys, {limited} with limits, "
        f"{len(parsed.teams)} teams with limits"
    )


@group.check(
    "keys.ledger",
    summary="the ledger of the keys' limits can be read: SQLite in the native proxy's data "
    "directory, or the Redis of LLMOPS_LEDGER_URL",
    remedy="start that Redis or correct LLMOPS_LEDGER_URL; while the ledger is down the proxy "
    "refuses keys with limits (503), unless LLMOPS_LEDGER_UNAVAILABLE=admit",
    requires=("keys.file",),
)
def ledger(ctx: DoctorContext, result: Verdicts) -> Finding:
    if not ctx.settings.get("LLMOPS_KEYS_FILE", "") or not _limited(ctx):
        return result.ok("no key has limits: the ledger is not used")
    url = ctx.settings.get("LLMOPS_LEDGER_URL", "")
    if not url and not ctx.native:
        return result.skip("the SQLite ledger lives in the proxy's volume; use --native or Redis")
    try:
        figures = _spending(ctx)
    except developer_keys.LedgerUnreachable as error:
        return result.fail(ctx.redact(error.message), error.fix or "Start the ledger.")
    where = "Redis" if url else "SQLite"
    return result.ok(f"{where} ledger readable; {len(figures)} keys and teams with limits")


@group.check(
    "keys.budgets",
    summary="no key or team is at or over its budget this period (warns from 90 %)",
    remedy="raise the budget (`python manage_langfuse.py keys set KEY --budget 100/month`) "
    "or wait for the period's reset",
    requires=("keys.ledger",),
)
def budgets(ctx: DoctorContext, result: Verdicts) -> Finding:
    if not ctx.settings.get("LLMOPS_KEYS_FILE", "") or not _limited(ctx):
        return result.ok("no key has a budget")
    high = developer_keys.near_budget(_spending(ctx))
    if high:
        return result.warn(
            "at or near the budget: " + "; ".join(sorted(high)),
            "Raise the budget with `python manage_langfuse.py keys set`, or wait for the reset.",
        )
    return result.ok("every key and team is under 90 % of its budget")
