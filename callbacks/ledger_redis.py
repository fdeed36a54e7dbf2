"""The ledger shared by several proxies: Redis (LLMOPS_LEDGER_URL=redis://...), same model as
ledger.py. Admission, settlement and lapse are each one Lua script, so every check and write of
a request is atomic across proxies. Keys (one Redis, no cluster): `llmops:ledger:` then
`spend:<scope>:<period>` (integer micro-dollars), `holds:<scope>:<period>` (hold id ->
"micros:lapse_at:boot:lapse_mono", ledger.py says why two clocks) and `minute:<scope>:<minute>`
(requests, tokens; expire after 2 minutes). A hold placed by a proxy on another host (or boot)
lapses by its wall-clock `lapse_at`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from .ledger import LapseClock, LedgerUnavailable, Refusal, Scope, Usage, minute_of

PREFIX = "llmops:ledger:"
TIMEOUT_S = 0.5

# Shared by the scripts: ARGV[1..9] = now, minute, hold id, micros/tokens, lapse_at, boot,
# monotonic now, lapse_mono, scope count; then 5 values per scope: name, period, budget, rpm,
# tpm (-1 = none).
_COMMON = """
local P = KEYS[1]
local now, minute, id = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local boot, mono = ARGV[6], tonumber(ARGV[7])
local n = tonumber(ARGV[9])
local function scope(i)
  local b = 10 + i * 5
  return ARGV[b], ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
end
-- micros, lapse_at, boot, lapse_mono of a hold (a hold from before boots were kept: '' '')
local function parse(value)
  return string.match(value, '^(%d+):([^:]+):?([^:]*):?([^:]*)$')
end
local function live(hboot, hmono, lapse)
  if hboot == boot and hmono ~= '' then return tonumber(hmono) > mono end
  return tonumber(lapse) > now
end
local function held(key)
  local total, all = 0, redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local micros, lapse, hboot, hmono = parse(all[i + 1])
    if live(hboot, hmono, lapse) then total = total + tonumber(micros)
    else redis.call('HDEL', key, all[i]) end
  end
  return total
end
"""

_ADMIT = (
    _COMMON
    + """
local hold = ARGV[4] .. ':' .. ARGV[5] .. ':' .. boot .. ':' .. ARGV[8]
for i = 0, n - 1 do
  local name, period, budget, rpm, tpm = scope(i)
  if rpm >= 0 or tpm >= 0 then
    local mk = P .. 'minute:' .. name .. ':' .. minute
    local requests = tonumber(redis.call('HGET', mk, 'requests') or '0')
    local tokens = tonumber(redis.call('HGET', mk, 'tokens') or '0')
    if rpm >= 0 and requests >= rpm then return {i, 'rpm', requests} end
    if tpm >= 0 and tokens >= tpm then return {i, 'tpm', tokens} end
  end
  if budget >= 0 then
    local used = tonumber(redis.call('GET', P .. 'spend:' .. name .. ':' .. period) or '0')
      + held(P .. 'holds:' .. name .. ':' .. period)
    if used >= budget then return {i, 'budget', used} end
  end
end
for i = 0, n - 1 do
  local name, period, budget, rpm, tpm = scope(i)
  if budget >= 0 then
    redis.call('HSET', P .. 'holds:' .. name .. ':' .. period, id, hold)
  end
  if rpm >= 0 or tpm >= 0 then
    local mk = P .. 'minute:' .. name .. ':' .. minute
    redis.call('HINCRBY', mk, 'requests', 1)
    redis.call('EXPIRE', mk, 120)
  end
end
return false
"""
)

_SETTLE = (
    _COMMON
    + """
local micros, tokens = tonumber(ARGV[4]), tonumber(ARGV[5])
-- ARGV[5] carries the tokens here, not a lapse
for i = 0, n - 1 do
  local name, period, budget, rpm, tpm = scope(i)
  redis.call('HDEL', P .. 'holds:' .. name .. ':' .. period, id)
  if budget >= 0 and micros > 0 then
    redis.call('INCRBY', P .. 'spend:' .. name .. ':' .. period, micros)
  end
  if tpm >= 0 and tokens > 0 then
    local mk = P .. 'minute:' .. name .. ':' .. minute
    redis.call('HINCRBY', mk, 'tokens', tokens)
    redis.call('EXPIRE', mk, 120)
  end
end
return false
"""
)

_LAPSE = (
    _COMMON
    + """
for i = 0, n - 1 do
  local name, period = scope(i)
  local key = P .. 'holds:' .. name .. ':' .. period
  local value = redis.call('HGET', key, id)
  if value then
    local micros, lapse, hboot, hmono = parse(value)
    if tonumber(ARGV[5]) < tonumber(lapse) then lapse = ARGV[5] end
    if hboot ~= boot or hmono == '' or tonumber(ARGV[8]) < tonumber(hmono) then hmono = ARGV[8] end
    redis.call('HSET', key, id, micros .. ':' .. lapse .. ':' .. boot .. ':' .. hmono)
  end
end
return false
"""
)


def _none(value: int | None) -> int:
    return -1 if value is None else value


class RedisLedger:
    """A ledger in Redis; every failure to reach it is a LedgerUnavailable."""

    def __init__(self, url: str, clock: LapseClock | None = None) -> None:
        self._clock = clock or LapseClock.of_host()
        self._client = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
        )
        self._admit = self._client.register_script(_ADMIT)
        self._settle = self._client.register_script(_SETTLE)
        self._lapse = self._client.register_script(_LAPSE)

    def _run(
        self,
        script: Any,
        scopes: Sequence[Scope],
        now: float,
        hold_id: str,
        amount: int,
        lapse_at: float,
    ) -> Any:
        """One script: the ARGV layout of _COMMON, the lapses counted from this boot's clock."""
        mono = self._clock.monotonic()
        values: list[object] = [repr(now), minute_of(now), hold_id, amount, repr(lapse_at)]
        values += [self._clock.boot, repr(mono), repr(mono + (lapse_at - now)), len(scopes)]
        for scope in scopes:
            values += [scope.name, scope.period, *map(_none, (scope.budget, scope.rpm, scope.tpm))]
        try:
            return script(keys=[PREFIX], args=values)
        except redis.RedisError as error:
            raise LedgerUnavailable(
                f"the Redis ledger cannot be reached ({type(error).__name__})"
            ) from None

    def admit(
        self, scopes: Sequence[Scope], hold_id: str, micros: int, now: float, lapse_at: float
    ) -> Refusal | None:
        result = self._run(self._admit, scopes, now, hold_id, micros, lapse_at)
        if not result:
            return None
        index, kind, used = result
        return Refusal(scopes[int(index)], kind.decode(), int(used))

    def settle(
        self, scopes: Sequence[Scope], hold_id: str, micros: int, tokens: int, now: float
    ) -> None:
        # The settle script reads the tokens where the others read a lapse (ARGV[5]).
        self._run(self._settle, scopes, now, hold_id, micros, tokens)

    def lapse(self, scopes: Sequence[Scope], hold_id: str, now: float, lapse_at: float) -> None:
        self._run(self._lapse, scopes, now, hold_id, 0, lapse_at)

    def usage(self, scope: Scope, now: float) -> Usage:
        try:
            spent = self._client.get(f"{PREFIX}spend:{scope.name}:{scope.period}")
            holds = self._client.hgetall(f"{PREFIX}holds:{scope.name}:{scope.period}")
            minute = self._client.hmget(
                f"{PREFIX}minute:{scope.name}:{minute_of(now)}", "requests", "tokens"
            )
        except redis.RedisError as error:
            raise LedgerUnavailable(
                f"the Redis ledger cannot be reached ({type(error).__name__})"
            ) from None
        mono = self._clock.monotonic()
        held = 0
        for value in holds.values():
            micros, lapse_at, boot, lapse_mono = [*value.decode().split(":"), "", ""][:4]
            same_boot = boot == self._clock.boot and lapse_mono != ""
            if (float(lapse_mono) > mono) if same_boot else (float(lapse_at) > now):
                held += int(micros)
        requests, tokens = (int(v or 0) for v in minute)
        return Usage(int(spent or 0), held, requests, tokens)
