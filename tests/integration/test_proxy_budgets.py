"""Budgets, rate limits, model allow-lists and expiry through the real proxy (callbacks/limits.py).

One proxy on the SQLite ledger serves most tests, each test with keys of its own; two proxies
share one real redis-server for the multi-proxy tests. Requests go to the Bedrock stand-in,
whose replies LiteLLM prices like Bedrock's, so settlement uses LiteLLM's own response_cost.
"""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anthropic
import httpx
import litellm
import openai
import pytest
import yaml

from callbacks import limits, pricing
from callbacks.keys_file import digest
from callbacks.ledger import Scope, SqliteLedger
from callbacks.ledger_redis import RedisLedger
from tests.fakes.bedrock.harness import RunningBedrock, running_bedrock
from tests.integration.proxy_harness import RunningProxy, start_proxy
from tests.redis_server import RunningRedis, running_redis

pytestmark = pytest.mark.integration

CALLBACKS = ("callbacks.fallback_policy.fallback_policy", "callbacks.auth.budget_settlement")
SONNET = "claude-sonnet-4-6"
SETTLE_WAIT_S = 15.0


def _key(name: str) -> str:
    return f"sk-test-{name}-" + "0123456789abcdef" * 2


KEYS = {
    "spent": {"key": _key("spent"), "user": "spent@example.com", "budget_usd": 0.000001},
    "rpm": {"key": _key("rpm"), "user": "rpm@example.com", "rpm": 2},
    "models": {"key": _key("models"), "user": "m@example.com", "models": ["claude-haiku-4-5"]},
    "expired": {"key": _key("expired"), "user": "old@example.com", "expires": "2020-01-31"},
    "team-a": {"key": _key("team-a"), "user": "a@example.com", "team": "small"},
    "team-b": {"key": _key("team-b"), "user": "b@example.com", "team": "small"},
    "burst": {"key": _key("burst"), "user": "burst@example.com", "budget_usd": 0.05},
    "free": {"key": _key("free"), "user": "free@example.com"},
    "cut": {"key": _key("cut"), "user": "cut@example.com", "budget_usd": 10},
    "retry": {"key": _key("retry"), "user": "retry@example.com", "budget_usd": 10},
}
TEAMS = {"small": {"budget_usd": 0.000001, "budget_period": "day"}}


@dataclass
class Proxy:
    bedrock: RunningBedrock
    proxy: RunningProxy
    work_dir: Path

    def post(self, path: str, key: str, body: dict, **headers: str) -> httpx.Response:
        return httpx.post(
            f"{self.proxy.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {key}", **headers},
            timeout=60,
        )

    def chat(self, name: str, **body: object) -> httpx.Response:
        request = {"model": SONNET, "messages": [{"role": "user", "content": "Say hi."}]}
        return self.post("/v1/chat/completions", KEYS[name]["key"], {**request, **body})


def _write_keys(path: Path) -> Path:
    path.write_text(yaml.safe_dump({"teams": TEAMS, "keys": list(KEYS.values())}), "utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def sqlite_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    work_dir = tmp_path_factory.mktemp("budgets")
    env = {
        "LLMOPS_KEYS_FILE": str(_write_keys(work_dir / "keys.yml")),
        "LLMOPS_LEDGER_DIR": str(work_dir / "ledger"),
    }
    with (
        running_bedrock() as bedrock,
        start_proxy(bedrock, work_dir, env_overrides=env, callbacks=CALLBACKS) as proxy,
    ):
        yield Proxy(bedrock, proxy, work_dir)


def _seconds_to_next_month() -> float:
    now = dt.datetime.now(dt.UTC)
    days = calendar.monthrange(now.year, now.month)[1]
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (start + dt.timedelta(days=days) - now).total_seconds()


def _month_scope(name: str) -> Scope:
    """The ledger scope of a key's monthly budget (limits.scopes_for names it so)."""
    month = f"month:{dt.datetime.now(dt.UTC):%Y-%m}"
    return Scope("key:" + digest(KEYS[name]["key"])[:16], month)


def _spend_settled(proxy: Proxy, name: str) -> None:
    """Wait until the first request of `name` has been settled in the SQLite ledger."""
    ledger = SqliteLedger(proxy.work_dir / "ledger")
    deadline = time.monotonic() + SETTLE_WAIT_S
    while time.monotonic() < deadline:
        rows = ledger._db.execute("SELECT COUNT(*) FROM holds").fetchone()[0]
        spent = ledger._db.execute("SELECT COALESCE(SUM(micros), 0) FROM spend").fetchone()[0]
        if rows == 0 and spent > 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"no settlement for {name}:\n{proxy.proxy.log_tail()}")


def test_budget_reached_is_a_429_in_the_openai_and_the_anthropic_format(
    sqlite_proxy: Proxy,
) -> None:
    first = sqlite_proxy.chat("spent")
    assert first.status_code == 200, first.text
    _spend_settled(sqlite_proxy, "spent")

    chat = sqlite_proxy.chat("spent")
    messages = sqlite_proxy.post(
        "/v1/messages",
        KEYS["spent"]["key"],
        {"model": SONNET, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]},
        **{"anthropic-version": "2023-06-01"},
    )

    for response in (chat, messages):
        assert response.status_code == 429, response.text
        error = response.json()["error"]
        assert error["type"] == "budget_exceeded"
        assert "Budget exceeded for the key of spent@example.com: spent $" in error["message"]
        assert "of its $0.000001 monthly budget" in error["message"]
        assert abs(int(response.headers["retry-after"]) - _seconds_to_next_month()) < 30
        assert response.headers["x-should-retry"] == "false"
    assert len(sqlite_proxy.bedrock.calls()) >= 1


def test_sdk_clients_show_the_budget_message_and_do_not_retry(sqlite_proxy: Proxy) -> None:
    oa = openai.OpenAI(base_url=sqlite_proxy.proxy.openai_url, api_key=KEYS["spent"]["key"])
    an = anthropic.Anthropic(base_url=sqlite_proxy.proxy.url, api_key=KEYS["spent"]["key"])
    calls_before = len(sqlite_proxy.bedrock.calls())

    with pytest.raises(openai.RateLimitError) as from_openai:
        oa.chat.completions.create(model=SONNET, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.RateLimitError) as from_anthropic:
        an.messages.create(
            model=SONNET, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )

    assert "Budget exceeded for the key of spent@example.com" in str(from_openai.value)
    assert "Budget exceeded for the key of spent@example.com" in str(from_anthropic.value)
    assert len(sqlite_proxy.bedrock.calls()) == calls_before


def test_rpm_limit_is_a_429_with_retry_after_in_seconds(sqlite_proxy: Proxy) -> None:
    if time.time() % 60 > 50:  # keep the three requests inside one minute
        time.sleep(61 - time.time() % 60)
    assert sqlite_proxy.chat("rpm").status_code == 200
    assert sqlite_proxy.chat("rpm").status_code == 200

    refused = sqlite_proxy.chat("rpm")

    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_exceeded"
    assert "2 requests per minute" in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_model_outside_the_allow_list_is_a_403_listing_the_allowed_groups(
    sqlite_proxy: Proxy,
) -> None:
    refused = sqlite_proxy.chat("models")

    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "model_not_allowed"
    assert "allowed model groups: claude-haiku-4-5" in refused.json()["error"]["message"]
    assert sqlite_proxy.chat("models", model="claude-haiku-4-5").status_code == 200


def test_expired_key_is_a_401_saying_when(sqlite_proxy: Proxy) -> None:
    refused = sqlite_proxy.chat("expired")

    assert refused.status_code == 401
    assert "expired on 2020-01-31" in refused.json()["error"]["message"]


def test_team_budget_is_shared_by_two_keys(sqlite_proxy: Proxy) -> None:
    assert sqlite_proxy.chat("team-a").status_code == 200
    ledger = SqliteLedger(sqlite_proxy.work_dir / "ledger")
    period = f"day:{dt.datetime.now(dt.UTC).date().isoformat()}"
    deadline = time.monotonic() + SETTLE_WAIT_S
    while ledger.usage(Scope("team:small", period), time.time()).spent == 0:
        assert time.monotonic() < deadline, sqlite_proxy.proxy.log_tail()
        time.sleep(0.1)

    refused = sqlite_proxy.chat("team-b")

    assert refused.status_code == 429
    assert "team small: spent $" in refused.json()["error"]["message"]


def test_keys_without_limits_and_the_master_key_are_unchanged(sqlite_proxy: Proxy) -> None:
    master = sqlite_proxy.post(
        "/v1/chat/completions",
        sqlite_proxy.proxy.master_key,
        {"model": SONNET, "messages": [{"role": "user", "content": "hi"}]},
    )

    assert sqlite_proxy.chat("free").status_code == 200
    assert master.status_code == 200


def test_a_throttled_attempt_costs_nothing_and_the_retry_costs_what_litellm_priced(
    sqlite_proxy: Proxy,
) -> None:
    sqlite_proxy.bedrock.set_fault("us.anthropic.claude-sonnet-4-6", "throttle", count=1)

    answered = sqlite_proxy.chat("retry")

    assert answered.status_code == 200, answered.text
    cost = float(answered.headers["x-litellm-response-cost"])
    ledger = SqliteLedger(sqlite_proxy.work_dir / "ledger")
    deadline = time.monotonic() + SETTLE_WAIT_S
    while (usage := ledger.usage(_month_scope("retry"), time.time())).held:
        assert time.monotonic() < deadline, sqlite_proxy.proxy.log_tail()
        time.sleep(0.1)
    assert [call["status"] for call in sqlite_proxy.bedrock.calls()][-2:] == [429, 200]
    assert usage.spent == math.ceil(cost * 1_000_000) > 0


def test_a_stream_cut_midway_releases_its_reservation_after_the_grace(
    sqlite_proxy: Proxy,
) -> None:
    sqlite_proxy.bedrock.set_fault(
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "midstream_throttle", count=1
    )
    client = openai.OpenAI(
        base_url=sqlite_proxy.proxy.openai_url, api_key=KEYS["cut"]["key"], max_retries=0
    )

    with pytest.raises(openai.APIError, match="Too many requests"):
        stream = client.chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        for _ in stream:
            pass

    ledger = SqliteLedger(sqlite_proxy.work_dir / "ledger")
    scope = _month_scope("cut")
    deadline = time.monotonic() + SETTLE_WAIT_S
    while True:
        rows = ledger._db.execute(
            "SELECT lapse_at FROM holds WHERE scope = ?", (scope.name,)
        ).fetchall()
        # The hold lapses within the grace instead of the 3-hour lifetime of a lost request.
        if rows and all(lapse_at <= time.time() + limits.SETTLE_GRACE_S for (lapse_at,) in rows):
            break
        assert time.monotonic() < deadline, sqlite_proxy.proxy.log_tail()
        time.sleep(0.1)


async def _stream(proxy: Proxy, max_tokens: int) -> int:
    client = openai.AsyncOpenAI(
        base_url=proxy.proxy.openai_url, api_key=KEYS["burst"]["key"], max_retries=0
    )
    try:
        stream = await client.chat.completions.create(
            model=SONNET,
            messages=[{"role": "user", "content": "Tell me a long story. " * 50}],
            max_tokens=max_tokens,
            stream=True,
        )
        async for _ in stream:
            pass
        return 200
    except openai.APIStatusError as error:
        return error.status_code
    finally:
        await client.close()


def test_concurrent_streams_at_a_nearly_spent_budget_overshoot_by_one_reservation_at_most(
    sqlite_proxy: Proxy,
) -> None:
    max_tokens = 400
    body = {
        "model": SONNET,
        "messages": [{"role": "user", "content": "Tell me a long story. " * 50}],
        "max_tokens": max_tokens,
    }
    price = pricing.model_price("us.anthropic.claude-sonnet-4-6", litellm.model_cost)
    reservation = pricing.estimate_micros(body, price, None)

    async def burst() -> list[int]:
        return await asyncio.gather(*(_stream(sqlite_proxy, max_tokens) for _ in range(12)))

    statuses = asyncio.run(burst())
    ledger = SqliteLedger(sqlite_proxy.work_dir / "ledger")
    scope = _month_scope("burst")
    deadline = time.monotonic() + SETTLE_WAIT_S
    while (usage := ledger.usage(scope, time.time())).held:
        assert time.monotonic() < deadline, sqlite_proxy.proxy.log_tail()
        time.sleep(0.1)

    assert statuses.count(429) > 0 and statuses.count(200) > 0, statuses
    assert 0 < usage.spent <= 50_000 + reservation


# ---- Two proxies, one Redis ------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Proxy, Proxy, RunningRedis]]:
    work_dir = tmp_path_factory.mktemp("redis-budgets")
    with running_redis(work_dir / "redis") as server, running_bedrock() as bedrock:
        keys = _write_keys(work_dir / "keys.yml")
        env = {"LLMOPS_KEYS_FILE": str(keys), "LLMOPS_LEDGER_URL": server.url}
        with (
            start_proxy(bedrock, work_dir / "a", env_overrides=env, callbacks=CALLBACKS) as a,
            start_proxy(bedrock, work_dir / "b", env_overrides=env, callbacks=CALLBACKS) as b,
        ):
            yield Proxy(bedrock, a, work_dir / "a"), Proxy(bedrock, b, work_dir / "b"), server


def test_two_proxies_sharing_one_redis_enforce_one_budget(redis_pair: tuple) -> None:
    first, second, server = redis_pair
    assert first.chat("spent").status_code == 200
    ledger = RedisLedger(server.url)
    scope = _month_scope("spent")
    deadline = time.monotonic() + SETTLE_WAIT_S
    while ledger.usage(scope, time.time()).spent == 0:
        assert time.monotonic() < deadline, first.proxy.log_tail()
        time.sleep(0.1)

    refused = second.chat("spent")

    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "budget_exceeded"


def test_ledger_down_refuses_limited_keys_with_the_reason(redis_pair: tuple) -> None:
    first, _, server = redis_pair
    server.stop()

    refused = first.chat("rpm")

    assert refused.status_code == 503
    assert refused.json()["error"]["type"] == "ledger_unavailable"
    assert "the Redis ledger cannot be reached" in refused.json()["error"]["message"]
    assert first.chat("free").status_code == 200
