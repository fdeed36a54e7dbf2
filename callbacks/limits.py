"""Admission under a key's and its team's limits, before LiteLLM routes the request.

Order of checks: expiry (401), models allow-list (403), then one ledger transaction for rpm,
tpm and budget (429 with Retry-After). A request that passes holds a reservation (pricing.py)
on every budget it counts against; settlement.py replaces the hold with the real cost when the
request ends. A request is admitted while spent + held < budget, so N concurrent requests at a
nearly spent budget overshoot it by at most one reservation (the last one admitted), provided
each costs no more than its reservation.

Refusals are ProxyExceptions: LiteLLM answers them on every route as
`{"error": {"message", "type", "param", "code"}}` with our headers, which the OpenAI and the
Anthropic SDKs both read (`error.message`); `x-should-retry: false` stops SDK retries where a
retry cannot succeed before the reset. Each refusal is a `Refused`, which names the key's
owner: LiteLLM hands the failure hook no identity for a request custom_auth refused, and the
trace (extract.py) must say who was stopped.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from litellm.proxy._types import ProxyException

from .keys_file import KeyEntry, Limits
from .ledger import Ledger, LedgerUnavailable, Refusal, Scope
from .pricing import MICROS, Prices, estimate_micros

log = logging.getLogger("llmops.limits")

METADATA_FIELD = "llmops_budget"
# A hold whose request never reports back (a killed worker) stops counting after this long.
HOLD_LIFETIME_S = 3 * 3600.0
# After a request ends without a success report, how long its hold waits for a late cost.
SETTLE_GRACE_S = 30.0
_FREE_ROUTES = ("count_tokens",)
# The OpenAI and Anthropic SDKs (Claude Code, Codex) retry 401s and 429s unless told not to.
_FINAL = {"x-should-retry": "false"}
_ADJECTIVES = {"day": "daily", "week": "weekly", "month": "monthly"}


class Refused(ProxyException):
    """A request the limits stopped: the client's error, plus why and whose key it was."""

    def __init__(self, reason: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refusal = reason
        self.user: str | None = None
        self.team: str | None = None
        self.key_alias: str | None = None

    def of(self, entry: KeyEntry) -> None:
        self.user, self.team, self.key_alias = entry.user, entry.team, entry.alias


def period_bounds(period: str, now: float, zone: dt.tzinfo) -> tuple[str, dt.datetime]:
    """The calendar period containing `now`: its ledger name and when the next one starts."""
    local = dt.datetime.fromtimestamp(now, zone)
    day = dt.datetime.combine(local.date(), dt.time(), zone)
    if period == "day":
        return f"day:{day.date().isoformat()}", _next_midnight(day, 1)
    if period == "week":
        monday = day - dt.timedelta(days=day.weekday())
        year, week, _ = monday.isocalendar()
        return f"week:{year}-W{week:02d}", _next_midnight(monday, 7)
    first = day.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return f"month:{first:%Y-%m}", following


def _next_midnight(start: dt.datetime, days: int) -> dt.datetime:
    # Wall-clock arithmetic, then re-attached to the zone: DST days are 23 or 25 hours long.
    date = start.date() + dt.timedelta(days=days)
    return dt.datetime.combine(date, dt.time(), start.tzinfo)


@dataclass(frozen=True)
class Named:
    """A scope with what a message needs: who it is and when its period resets."""

    scope: Scope
    who: str
    limits: Limits
    resets_at: dt.datetime


def scopes_for(key_digest: str, entry: KeyEntry, now: float, zone: dt.tzinfo) -> list[Named]:
    """The key's own scope and its team's, each with the limits that apply to it."""
    owners = [(f"key:{key_digest[:16]}", _key_of(entry), entry.limits)]
    if entry.team is not None and entry.team_limits is not None:
        owners.append((f"team:{entry.team}", f"team {entry.team}", entry.team_limits))
    named = []
    for name, who, limits in owners:
        if not limits.limited:
            continue
        period, resets_at = period_bounds(limits.budget_period, now, zone)
        budget = round(limits.budget_usd * MICROS) if limits.budget_usd is not None else None
        scope = Scope(name, period, budget=budget, rpm=limits.rpm, tpm=limits.tpm)
        named.append(Named(scope, who, limits, resets_at))
    return named


def _key_of(entry: KeyEntry) -> str:
    """How messages name a key: never by its secret, by its alias when it has its own."""
    if entry.alias == entry.user:
        return f"the key of {entry.user}"
    return f"the key {entry.alias} of {entry.user}"


def allowed_models(entry: KeyEntry) -> tuple[str, ...] | None:
    """The model groups both the key and its team allow; None when neither restricts."""
    lists = [lim.models for lim in (entry.limits, entry.team_limits) if lim and lim.models]
    if not lists:
        return None
    return tuple(m for m in lists[0] if all(m in other for other in lists[1:]))


def expiry(entry: KeyEntry) -> dt.datetime | None:
    moments = [lim.expires for lim in (entry.limits, entry.team_limits) if lim and lim.expires]
    return min(moments) if moments else None


def needs_gate(entry: KeyEntry) -> bool:
    """Whether a key has anything to check; keys without limits skip the gate entirely."""
    return any(
        lim is not None and (lim.limited or lim.models is not None or lim.expires is not None)
        for lim in (entry.limits, entry.team_limits)
    )


def _dollars(micros: int) -> str:
    """Cents, or micro-dollars for amounts under a cent (else a tiny budget reads $0.00)."""
    if 0 < micros < MICROS // 100:
        return f"${micros / MICROS:.6f}"
    return f"${micros / MICROS:,.2f}"


def _refused(refusal: Refusal, named: Named, now: float) -> Refused:
    if refusal.kind == "budget":
        wait = max(1, math.ceil(named.resets_at.timestamp() - now))
        period = _ADJECTIVES[named.limits.budget_period]
        message = (
            f"Budget exceeded for {named.who}: spent {_dollars(refusal.used)} of its "
            f"{_dollars(named.scope.budget or 0)} {period} budget (requests in flight "
            f"included); it resets at {named.resets_at.isoformat()}. Ask the proxy's admin "
            "to raise it."
        )
        headers = {"retry-after": str(wait), **_FINAL}
        return Refused("budget_exceeded", message, "budget_exceeded", None, 429, headers=headers)
    wait = max(1, 60 - int(now % 60))
    if refusal.kind == "rpm":
        message = (
            f"Rate limit for {named.who}: {named.scope.rpm} requests per minute reached; "
            f"retry in {wait} s."
        )
    else:
        message = (
            f"Token rate limit for {named.who}: {refusal.used} of {named.scope.tpm} tokens "
            f"per minute used; retry in {wait} s."
        )
    headers = {"retry-after": str(wait)}
    return Refused("rate_limited", message, "rate_limit_exceeded", None, 429, headers=headers)


def _ledger_down(error: LedgerUnavailable) -> Refused:
    return Refused(
        "ledger_unavailable",
        f"Spend limits cannot be checked ({error}), so requests from keys with limits are "
        "refused until the ledger is back. Ask the proxy's admin.",
        "ledger_unavailable",
        None,
        503,
        headers={"retry-after": "30"},
    )


@dataclass(frozen=True)
class GateSettings:
    """What the environment sets: the periods' zone, the output cap, the ledger-down policy."""

    zone: dt.tzinfo = dt.UTC
    output_cap: int | None = None
    admit_without_ledger: bool = False


class Gate:
    """Checks one developer request against its limits, and settles what it cost."""

    def __init__(
        self,
        ledger: Callable[[], Ledger],
        prices: Prices,
        settings: GateSettings,
        clock: Callable[[], float],
    ) -> None:
        self._ledger_factory = ledger
        self._ledger: Ledger | None = None
        self._prices = prices
        self._settings = settings
        self._clock = clock

    def ledger(self) -> Ledger:
        """The ledger, opened at first use, so keys without limits never touch it."""
        if self._ledger is None:
            self._ledger = self._ledger_factory()
        return self._ledger

    def admit(
        self, key_digest: str, entry: KeyEntry, body: Mapping[str, Any], route: str
    ) -> dict[str, Any] | None:
        """Raise Refused if refused; else the hold to settle (None: nothing held)."""
        try:
            return self._admit(entry, key_digest, body, route)
        except Refused as refused:
            refused.of(entry)
            raise

    def _admit(
        self, entry: KeyEntry, key_digest: str, body: Mapping[str, Any], route: str
    ) -> dict[str, Any] | None:
        now = self._clock()
        ends = expiry(entry)
        if ends is not None and now >= ends.timestamp():
            raise Refused(
                "key_expired",
                f"This API key expired on {ends.date().isoformat()} ({_key_of(entry)}). "
                "Ask the proxy's admin for a new key.",
                "auth_error",
                "api_key",
                401,
                headers=_FINAL,
            )
        model = body.get("model")
        if not isinstance(model, str):
            return None
        allowed = allowed_models(entry)
        if allowed is not None and model not in allowed:
            listed = ", ".join(allowed) or "none"
            raise Refused(
                "model_not_allowed",
                f"Model {model} is not allowed for {_key_of(entry)}; "
                f"allowed model groups: {listed}.",
                "model_not_allowed",
                "model",
                403,
                headers=_FINAL,
            )
        named = scopes_for(key_digest, entry, now, self._settings.zone)
        if not named or route.endswith(_FREE_ROUTES):
            return None
        return self._hold(named, body, model, now)

    def _hold(
        self, named: Sequence[Named], body: Mapping[str, Any], model: str, now: float
    ) -> dict[str, Any] | None:
        price = self._prices.for_group(model)
        micros = estimate_micros(body, price, self._settings.output_cap) if price else 0
        hold_id = uuid.uuid4().hex
        scopes = [n.scope for n in named]
        try:
            refusal = self.ledger().admit(scopes, hold_id, micros, now, now + HOLD_LIFETIME_S)
        except LedgerUnavailable as error:
            if not self._settings.admit_without_ledger:
                log.error("refused a request of a limited key: %s", error)
                raise _ledger_down(error) from None
            log.warning("admitted a limited key without its limits: %s", error)
            return None
        if refusal is not None:
            which = next(n for n in named if n.scope == refusal.scope)
            log.warning("refused %s: %s limit", which.who, refusal.kind)
            raise _refused(refusal, which, now)
        return {"hold": hold_id, "micros": micros, "scopes": [_scope_row(s) for s in scopes]}

    def settle(self, hold: Mapping[str, Any], cost_usd: float, tokens: int) -> None:
        """Replace a hold with the real cost of the attempt Bedrock billed; never raises."""
        micros = max(0, math.ceil(cost_usd * MICROS))
        self._apply(
            lambda ledger, scopes: ledger.settle(
                scopes, hold["hold"], micros, tokens, self._clock()
            ),
            hold,
        )

    def charge(self, hold: Mapping[str, Any], cost_usd: float, tokens: int) -> None:
        """Add a billed attempt's cost (a failed attempt that Bedrock billed), keeping the hold."""
        micros = max(0, math.ceil(cost_usd * MICROS))
        if micros or tokens:
            self._apply(
                lambda ledger, scopes: ledger.settle(scopes, "", micros, tokens, self._clock()),
                hold,
            )

    def ended(self, hold: Mapping[str, Any]) -> None:
        """The request is over: its hold waits SETTLE_GRACE_S for a late cost, then lapses."""
        now = self._clock()
        self._apply(
            lambda ledger, scopes: ledger.lapse(scopes, hold["hold"], now, now + SETTLE_GRACE_S),
            hold,
        )

    def _apply(self, work: Callable[[Ledger, list[Scope]], None], hold: Mapping[str, Any]) -> None:
        try:
            work(self.ledger(), [_scope_from_row(row) for row in hold["scopes"]])
        except (LedgerUnavailable, KeyError, TypeError, ValueError) as error:
            log.error("could not settle a request's cost in the ledger: %s", error)


def _scope_row(scope: Scope) -> list[Any]:
    return [scope.name, scope.period, scope.budget, scope.rpm, scope.tpm]


def _scope_from_row(row: Sequence[Any]) -> Scope:
    name, period, budget, rpm, tpm = row
    return Scope(str(name), str(period), budget=budget, rpm=rpm, tpm=tpm)


def zone_from(name: str) -> dt.tzinfo:
    """LLMOPS_BUDGET_TIMEZONE as a zone; UTC when empty."""
    return ZoneInfo(name) if name else dt.UTC
