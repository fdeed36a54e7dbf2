"""Budget figures: what admission (reserve) plus settlement cost per request, per ledger.

    .venv/bin/python bench/budgets.py [--requests 2000]

Runs the proxy's own Gate (callbacks/limits.py) on a key with a budget and an rpm limit and a
team budget, the way callbacks/auth.py and settlement.py call it, against the SQLite ledger
(WAL, a temporary directory) and a redis-server started on loopback, with the request the
proxy benchmark sends (bench/payload.py: Cline-shaped, 100 KB, 25 tools; the reservation
encodes it, so a body of one long string would flatter the estimate). Wall-clock time of each
admit + settle pair (on a busy shared machine, an upper bound on the CPU used), and the
process's CPU time per pair over the whole run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402

from bench.payload import chat_body  # noqa: E402
from bench.stats import percentile  # noqa: E402
from callbacks import keys_file, limits  # noqa: E402
from callbacks.ledger import Ledger, SqliteLedger  # noqa: E402
from callbacks.ledger_redis import RedisLedger  # noqa: E402
from callbacks.pricing import Prices  # noqa: E402
from tests.redis_server import running_redis  # noqa: E402

KEY = "sk-bench-" + "k" * 32
KEYS = f"""
teams:
  platform: {{budget_usd: 1000000}}
keys:
  - {{key: {KEY}, user: bench@example.com, team: platform, budget_usd: 1000000, rpm: 100000000}}
"""
BODY = json.loads(chat_body(100))
ROUTES = {"claude-sonnet-4-6": ["bedrock/converse/us.anthropic.claude-sonnet-4-6"]}


def measure(ledger_factory: Callable[[], Ledger], requests: int) -> tuple[list[float], float]:
    """Each pair's wall-clock ms (warm-up left out), and the CPU ms per pair over all of them."""
    entry = keys_file.load_keys(KEYS).entries[keys_file.digest(KEY)]
    digest = keys_file.digest(KEY)
    gate = limits.Gate(
        ledger_factory, Prices(lambda: ROUTES, litellm.model_cost), limits.GateSettings(), time.time
    )
    timings = []
    cpu_started = time.process_time()
    for _ in range(requests):
        started = time.perf_counter()
        hold = gate.admit(digest, entry, BODY, "/v1/chat/completions")
        gate.settle(hold, 0.05, 5000)
        timings.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - cpu_started) * 1000 / requests
    return timings[requests // 10 :], cpu_ms  # without the warm-up


def show(name: str, measured: tuple[list[float], float]) -> None:
    timings, cpu_ms = measured
    figures = " / ".join(f"{percentile(timings, q):.3f}" for q in (50, 95, 99))
    print(
        f"{name:8} admit + settle p50 / p95 / p99 ms: {figures}, CPU {cpu_ms:.3f} ms "
        f"({len(timings)} requests)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    requests = parser.parse_args().requests
    with tempfile.TemporaryDirectory() as work:
        show("sqlite", measure(lambda: SqliteLedger(Path(work) / "ledger"), requests))
        with running_redis(Path(work) / "redis") as server:
            show("redis", measure(lambda: RedisLedger(server.url), requests))


if __name__ == "__main__":
    main()
