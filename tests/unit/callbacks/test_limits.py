"""callbacks/limits.py with both ledgers (SQLite, and a real redis-server): admission, the
reservation, settlement, periods and restarts, on an injected clock."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import litellm
import pytest

from callbacks import keys_file, limits
from callbacks.ledger import LapseClock, LedgerUnavailable, Scope, SqliteLedger
from callbacks.ledger_redis import RedisLedger
from callbacks.pricing import Prices
from tests.redis_server import RunningRedis, running_redis

ALICE_KEY = "sk-alice-" + "a" * 32
BOB_KEY = "sk-bob-" + "b" * 32
SONNET = "claude-sonnet-4-6"
ROUTES = {SONNET: ["bedrock/converse/us.anthropic.claude-sonnet-4-6"]}
# 2026-12-06 12:00:00 UTC, a Sunday.
NOON = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC).timestamp()


def _body(max_tokens: int = 1000) -> dict:
    return {
        "model": SONNET,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": max_tokens,
    }


@dataclass
class HostClock:
    """The host's two clocks: the wall clock (calendar, minutes), which an admin or NTP may
    step (`step`), and the monotonic clock of this boot, which only ever advances."""

    now: float
    mono: float = 1000.0
    boot: str = "boot-1"

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds

    def step(self, seconds: float) -> None:
        self.now += seconds

    def lapses(self) -> LapseClock:
        return LapseClock(self.boot, self.monotonic)


@pytest.fixture
def clock() -> HostClock:
    return HostClock(NOON)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRedis]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(params=["sqlite", "redis"])
def open_ledger(
    request: pytest.FixtureRequest, tmp_path: Path, clock: HostClock
) -> Callable[[], SqliteLedger | RedisLedger]:
    """Opens the ledger afresh each call: a second call is a restarted proxy (or another one),
    on the host's clocks as they are then (a reboot is a new `clock.boot`)."""
    if request.param == "sqlite":
        return lambda: SqliteLedger(tmp_path / "ledger", clock.lapses())
    server = request.getfixturevalue("redis_server")
    prefix_db = len(request.node.name) % 16  # a fresh database per test: no shared counters
    url = server.url.rsplit("/", 1)[0] + f"/{prefix_db}"
    RedisLedger(url)._client.flushdb()
    return lambda: RedisLedger(url, clock.lapses())


def _gate(open_ledger, clock, **settings) -> limits.Gate:
    prices = Prices(lambda: ROUTES, litellm.model_cost)
    return limits.Gate(open_ledger, prices, limits.GateSettings(**settings), clock)


def _keys(text: str) -> dict[str, keys_file.KeyEntry]:
    doc = keys_file.load_keys(textwrap.dedent(text))
    assert doc.problems == []
    return doc.entries


def _alice(limits_yaml: str) -> tuple[str, keys_file.KeyEntry]:
    entries = _keys(f"- {{key: {ALICE_KEY}, user: alice@example.com, {limits_yaml}}}")
    digest = keys_file.digest(ALICE_KEY)
    return digest, entries[digest]


def _refusal(gate: limits.Gate, key: tuple[str, keys_file.KeyEntry], body: dict):
    with pytest.raises(limits.ProxyException) as refused:
        gate.admit(*key, body, "/v1/chat/completions")
    return refused.value


def test_budget_reached_is_a_429_naming_spent_limit_and_reset(open_ledger, clock) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("budget_usd: 1, budget_period: day")
    hold = gate.admit(*alice, _body(), "/v1/chat/completions")
    gate.settle(hold, 1.25, 5000)

    refused = _refusal(gate, alice, _body())

    assert (refused.code, refused.type) == ("429", "budget_exceeded")
    assert refused.message == (
        "Budget exceeded for the key of alice@example.com: spent $1.25 of its $1.00 daily "
        "budget (requests in flight included); it resets at 2026-12-07T00:00:00+00:00. "
        "Ask the proxy's admin to raise it."
    )
    assert refused.headers == {"retry-after": str(12 * 3600), "x-should-retry": "false"}


def test_concurrent_requests_at_a_nearly_spent_budget_overshoot_by_one_reservation_at_most(
    open_ledger, clock
) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("budget_usd: 0.05")
    holds, refused = [], 0
    for _ in range(20):  # all arrive before any finishes
        try:
            holds.append(gate.admit(*alice, _body(), "/v1/chat/completions"))
        except limits.ProxyException:
            refused += 1
    reservation = holds[0]["micros"]
    for hold in holds:
        gate.settle(hold, reservation / 1_000_000, 100)  # each costs its whole reservation

    usage = gate.ledger().usage(limits._scope_from_row(holds[0]["scopes"][0]), clock())
    assert (len(holds), refused) == (4, 16)
    assert usage.held == 0
    assert 50_000 <= usage.spent <= 50_000 + reservation


def test_reservation_is_input_size_plus_max_tokens_at_the_routes_prices(open_ledger, clock) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("budget_usd: 10")
    body = _body(max_tokens=2000)

    hold = gate.admit(*alice, body, "/v1/chat/completions")

    # 2000 output tokens at $16.50/M, plus 15 input tokens (45 bytes of messages as compact
    # JSON / 3) at the dearest input price, a 1-hour cache write: $6.60/M.
    assert hold["micros"] == 33_000 + 99


def test_without_max_tokens_the_configured_cap_is_reserved(open_ledger, clock) -> None:
    gate = _gate(open_ledger, clock, output_cap=4000)
    body = _body()
    del body["max_tokens"]

    hold = gate.admit(*_alice("budget_usd: 10"), body, "/v1/chat/completions")

    assert hold["micros"] == 66_000 + 99  # 4000 x $16.50/M, and the same input


def test_spend_survives_a_restart_and_resets_at_the_period_boundary(open_ledger, clock) -> None:
    alice = _alice("budget_usd: 1, budget_period: month")
    first = _gate(open_ledger, clock)
    first.settle(first.admit(*alice, _body(), "/v1/chat/completions"), 2.0, 10)

    restarted = _gate(open_ledger, clock)
    assert _refusal(restarted, alice, _body()).code == "429"

    clock.now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp()
    assert restarted.admit(*alice, _body(), "/v1/chat/completions") is not None


def test_budget_timezone_moves_the_period_boundary(open_ledger, clock) -> None:
    zone = limits.zone_from("America/New_York")
    gate, alice = _gate(open_ledger, clock, zone=zone), _alice("budget_usd: 1, budget_period: day")
    clock.now = dt.datetime(2026, 12, 7, 3, tzinfo=dt.UTC).timestamp()  # 22:00 in New York
    gate.settle(gate.admit(*alice, _body(), "/v1/chat/completions"), 2.0, 10)

    refused = _refusal(gate, alice, _body())
    assert refused.headers["retry-after"] == str(2 * 3600)  # local midnight = 05:00 UTC

    clock.advance(2 * 3600)
    assert gate.admit(*alice, _body(), "/v1/chat/completions") is not None


def test_a_budget_under_a_cent_is_shown_in_micro_dollars(open_ledger, clock) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("budget_usd: 0.000005")
    gate.settle(gate.admit(*alice, _body(), "/v1/chat/completions"), 0.000012, 10)

    assert (
        "spent $0.000012 of its $0.000005 monthly budget" in _refusal(gate, alice, _body()).message
    )


def test_team_budget_is_shared_by_its_keys_and_the_tighter_budget_wins(open_ledger, clock) -> None:
    entries = _keys(f"""
        teams:
          platform: {{budget_usd: 1}}
        keys:
          - {{key: {ALICE_KEY}, user: alice@example.com, team: platform, budget_usd: 5}}
          - {{key: {BOB_KEY}, user: bob@example.com, team: platform}}
    """)
    alice = (keys_file.digest(ALICE_KEY), entries[keys_file.digest(ALICE_KEY)])
    bob = (keys_file.digest(BOB_KEY), entries[keys_file.digest(BOB_KEY)])
    gate = _gate(open_ledger, clock)
    gate.settle(gate.admit(*alice, _body(), "/v1/chat/completions"), 1.5, 10)

    refused = _refusal(gate, bob, _body())

    assert refused.type == "budget_exceeded"
    assert "team platform: spent $1.50 of its $1.00 monthly budget" in refused.message
    # Named for the trace: LiteLLM's failure hook gets no identity for an auth refusal.
    assert (refused.refusal, refused.user, refused.team, refused.key_alias) == (
        "budget_exceeded",
        "bob@example.com",
        "platform",
        "bob@example.com",
    )
    assert "2027-01-01T00:00:00+00:00" in refused.message


def test_rpm_refuses_until_the_next_minute_with_retry_after(open_ledger, clock) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("rpm: 2")
    clock.advance(15)  # 15 s into the minute
    gate.admit(*alice, _body(), "/v1/chat/completions")
    gate.admit(*alice, _body(), "/v1/chat/completions")

    refused = _refusal(gate, alice, _body())

    assert (refused.code, refused.type) == ("429", "rate_limit_exceeded")
    assert (refused.refusal, refused.user) == ("rate_limited", "alice@example.com")
    assert refused.headers == {"retry-after": "45"}
    clock.advance(45)
    gate.admit(*alice, _body(), "/v1/chat/completions")  # admitted again


def test_tpm_counts_the_tokens_settled_this_minute(open_ledger, clock) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("tpm: 1000, budget_usd: 10")
    gate.settle(gate.admit(*alice, _body(), "/v1/chat/completions"), 0.01, 1200)

    refused = _refusal(gate, alice, _body())

    assert "1200 of 1000 tokens per minute" in refused.message


def test_model_outside_the_allow_list_is_a_403_listing_the_allowed_groups(
    open_ledger, clock
) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("models: [claude-haiku-4-5, claude-sonnet-4-5]")

    refused = _refusal(gate, alice, {**_body(), "model": "claude-opus-4-8"})

    assert (refused.code, refused.type) == ("403", "model_not_allowed")
    assert (refused.refusal, refused.user) == ("model_not_allowed", "alice@example.com")
    assert refused.headers == {"x-should-retry": "false"}
    assert "allowed model groups: claude-haiku-4-5, claude-sonnet-4-5" in refused.message


def test_expired_key_is_a_401_saying_so(open_ledger, clock) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("expires: 2026-12-06")

    refused = _refusal(gate, alice, _body())

    assert (refused.code, refused.type) == ("401", "auth_error")
    assert (refused.refusal, refused.user) == ("key_expired", "alice@example.com")
    assert refused.message == (
        "This API key expired on 2026-12-06 (the key of alice@example.com). "
        "Ask the proxy's admin for a new key."
    )
    assert refused.headers == {"x-should-retry": "false"}  # else Claude Code retries, silent


def test_a_request_that_ends_without_a_cost_releases_its_hold_after_the_grace(
    open_ledger, clock
) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("budget_usd: 0.01")
    hold = gate.admit(*alice, _body(), "/v1/chat/completions")
    gate.ended(hold)
    assert _refusal(gate, alice, _body()).type == "budget_exceeded"

    clock.advance(limits.SETTLE_GRACE_S + 1)

    assert gate.admit(*alice, _body(), "/v1/chat/completions") is not None


def test_billed_failed_attempt_is_charged_and_the_hold_stays_for_the_retry(
    open_ledger, clock
) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("budget_usd: 10")
    hold = gate.admit(*alice, _body(), "/v1/chat/completions")

    gate.charge(hold, 0.5, 100)
    gate.charge(hold, 0.0, 0)  # an unbilled failure costs nothing

    scope = limits._scope_from_row(hold["scopes"][0])
    usage = gate.ledger().usage(scope, clock())
    assert (usage.spent, usage.held) == (500_000, hold["micros"])


def test_ledger_down_refuses_limited_keys_with_the_reason(clock, caplog) -> None:
    def unreachable() -> SqliteLedger:
        raise LedgerUnavailable("the Redis ledger cannot be reached (ConnectionError)")

    gate, alice = _gate(unreachable, clock), _alice("budget_usd: 10")

    with caplog.at_level(logging.ERROR, logger="llmops.limits"):
        refused = _refusal(gate, alice, _body())

    assert (refused.code, refused.type) == ("503", "ledger_unavailable")
    assert (refused.refusal, refused.user) == ("ledger_unavailable", "alice@example.com")
    assert "the Redis ledger cannot be reached (ConnectionError)" in refused.message
    assert "cannot be reached" in caplog.text


def test_ledger_down_admits_with_a_warning_when_set_to(clock, caplog) -> None:
    def unreachable() -> SqliteLedger:
        raise LedgerUnavailable("down")

    gate = _gate(unreachable, clock, admit_without_ledger=True)

    with caplog.at_level(logging.WARNING, logger="llmops.limits"):
        assert gate.admit(*_alice("budget_usd: 10"), _body(), "/v1/chat/completions") is None
    assert "admitted a limited key without its limits: down" in caplog.text


def test_keys_without_limits_never_open_the_ledger() -> None:
    entries = _keys(f"- {{key: {ALICE_KEY}, user: alice@example.com, forwards_users: true}}")

    assert not limits.needs_gate(entries[keys_file.digest(ALICE_KEY)])


def test_count_tokens_is_not_reserved_or_counted(open_ledger, clock) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("rpm: 1")

    for _ in range(3):
        assert gate.admit(*alice, _body(), "/v1/messages/count_tokens") is None
    gate.admit(*alice, _body(), "/v1/messages")


def test_sqlite_ledger_files_are_private(tmp_path: Path, clock: HostClock) -> None:
    directory = tmp_path / "ledger"
    gate = _gate(lambda: SqliteLedger(directory), clock)
    gate.settle(gate.admit(*_alice("budget_usd: 1"), _body(), "/v1/chat/completions"), 0.1, 1)

    modes = {p.name: p.stat().st_mode & 0o777 for p in directory.iterdir()}
    assert directory.stat().st_mode & 0o777 == 0o700
    assert modes == {name: 0o600 for name in modes} and "ledger.sqlite3-wal" in modes


# Clocks: the wall clock may be stepped (an admin, NTP after a long drift, a VM resumed);
# periods follow it, reservations must not.


def test_a_wall_clock_stepped_forward_keeps_the_holds_of_requests_in_flight(
    open_ledger, clock
) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("budget_usd: 0.03")
    gate.admit(*alice, _body(max_tokens=2000), "/v1/chat/completions")  # holds $0.033

    clock.step(limits.HOLD_LIFETIME_S + 3600)  # the same day, four hours later by the wall

    assert _refusal(gate, alice, _body()).type == "budget_exceeded"


def test_a_wall_clock_stepped_back_still_lapses_an_ended_requests_hold_after_the_grace(
    open_ledger, clock
) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("budget_usd: 0.01")
    gate.ended(gate.admit(*alice, _body(), "/v1/chat/completions"))

    clock.step(-3600)
    clock.advance(limits.SETTLE_GRACE_S + 1)

    assert gate.admit(*alice, _body(), "/v1/chat/completions") is not None


def test_holds_survive_a_restart_and_lapse_by_the_wall_clock_after_a_reboot(
    open_ledger, clock
) -> None:
    alice = _alice("budget_usd: 0.01")
    _gate(open_ledger, clock).admit(*alice, _body(), "/v1/chat/completions")  # then killed

    restarted = _gate(open_ledger, clock)
    assert _refusal(restarted, alice, _body()).type == "budget_exceeded"

    clock.boot, clock.mono = "boot-2", 5.0  # the host rebooted: its monotonic clock restarted
    rebooted = _gate(open_ledger, clock)
    assert _refusal(rebooted, alice, _body()).type == "budget_exceeded"
    clock.advance(limits.HOLD_LIFETIME_S + 1)
    assert rebooted.admit(*alice, _body(), "/v1/chat/completions") is not None


def _own_scope(key: tuple[str, keys_file.KeyEntry], when: float) -> Scope:
    """The key's own scope in the period containing `when`."""
    return limits.scopes_for(*key, when, dt.UTC)[0].scope


def test_a_wall_clock_stepped_back_across_midnight_counts_each_cost_once_in_its_period(
    open_ledger, clock
) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("budget_usd: 1, budget_period: day")
    clock.now = dt.datetime(2026, 12, 6, 23, 59, 30, tzinfo=dt.UTC).timestamp()
    gate.settle(gate.admit(*alice, _body(), "/v1/chat/completions"), 1.0, 10)  # Dec 6 spent
    clock.advance(60)  # 00:00:30 on Dec 7: a new day
    gate.settle(gate.admit(*alice, _body(), "/v1/chat/completions"), 0.25, 10)
    in_flight = gate.admit(*alice, _body(), "/v1/chat/completions")

    clock.step(-60)  # back to 23:59:30 on Dec 6
    refused = _refusal(gate, alice, _body())
    gate.settle(in_flight, 0.5, 10)  # admitted on Dec 7: charged there

    assert "spent $1.00 of its $1.00 daily budget" in refused.message  # not reset, not doubled
    assert gate.ledger().usage(_own_scope(alice, clock()), clock()).spent == 1_000_000
    clock.step(60)
    assert gate.ledger().usage(_own_scope(alice, clock()), clock()).spent == 750_000


def test_a_wall_clock_stepped_forward_across_midnight_starts_the_new_day(
    open_ledger, clock
) -> None:
    gate, alice = _gate(open_ledger, clock), _alice("budget_usd: 1, budget_period: day")
    in_flight = gate.admit(*alice, _body(), "/v1/chat/completions")
    gate.settle(gate.admit(*alice, _body(), "/v1/chat/completions"), 1.0, 10)
    admitted_on = _own_scope(alice, clock())

    clock.step(13 * 3600)  # 01:00 the next day
    assert gate.admit(*alice, _body(), "/v1/chat/completions") is not None
    gate.settle(in_flight, 0.5, 10)

    assert gate.ledger().usage(admitted_on, clock()).spent == 1_500_000
    assert gate.ledger().usage(_own_scope(alice, clock()), clock()).spent == 0


@pytest.mark.parametrize(
    ("local_start", "hours"),
    [
        ("2026-03-08", 23),  # New York springs forward
        ("2026-11-01", 25),  # and falls back
        ("2026-12-06", 24),
    ],
)
def test_a_day_in_the_budget_timezone_lasts_as_long_as_the_local_day(
    local_start: str, hours: int
) -> None:
    zone = limits.zone_from("America/New_York")
    start = dt.datetime.combine(dt.date.fromisoformat(local_start), dt.time(), zone).timestamp()

    for offset in (0, 3600 * hours - 1):  # the day's first and last second
        name, resets_at = limits.period_bounds("day", start + offset, zone)
        assert name == f"day:{local_start}"
        assert resets_at.timestamp() - start == 3600 * hours


def test_retry_after_on_a_25_hour_day_counts_to_the_real_local_midnight(open_ledger, clock) -> None:
    zone = limits.zone_from("America/New_York")
    gate, alice = _gate(open_ledger, clock, zone=zone), _alice("budget_usd: 1, budget_period: day")
    clock.now = dt.datetime(2026, 11, 1, 4, 30, tzinfo=dt.UTC).timestamp()  # 00:30 EDT
    gate.settle(gate.admit(*alice, _body(), "/v1/chat/completions"), 2.0, 10)

    refused = _refusal(gate, alice, _body())

    assert refused.headers["retry-after"] == str(int(24.5 * 3600))  # 00:00 EST, 05:00 UTC
    assert "it resets at 2026-11-02T00:00:00-05:00" in refused.message


def test_a_midnight_that_a_dst_change_skips_still_ends_the_day() -> None:
    zone = limits.zone_from("America/Santiago")  # 2026-09-06 00:00 -04 is 01:00 -03
    evening = dt.datetime(2026, 9, 5, 23, 59, 59, tzinfo=zone).timestamp()

    name, resets_at = limits.period_bounds("day", evening, zone)

    assert name == "day:2026-09-05"
    assert resets_at.timestamp() == evening + 1
    assert limits.period_bounds("day", evening + 1, zone)[0] == "day:2026-09-06"


def test_a_ledger_from_before_monotonic_lapses_is_upgraded_in_place(
    tmp_path: Path, clock: HostClock
) -> None:
    directory = tmp_path / "ledger"
    directory.mkdir()
    old = sqlite3.connect(directory / "ledger.sqlite3")
    old.executescript(
        "CREATE TABLE holds (id TEXT NOT NULL, scope TEXT NOT NULL, period TEXT NOT NULL, "
        "micros INTEGER NOT NULL, lapse_at REAL NOT NULL, PRIMARY KEY (id, scope));"
    )
    alice = _alice("budget_usd: 0.01")
    scope = _own_scope(alice, clock())
    old.execute(
        "INSERT INTO holds VALUES ('h', ?, ?, 20000, ?)", (scope.name, scope.period, clock() + 60)
    )
    old.commit()
    old.close()
    gate = _gate(lambda: SqliteLedger(directory, clock.lapses()), clock)

    assert _refusal(gate, alice, _body()).type == "budget_exceeded"  # the old hold counts
    clock.advance(61)
    assert gate.admit(*alice, _body(), "/v1/chat/completions") is not None  # and lapses
