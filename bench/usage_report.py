"""How long `report` takes to read a month of a 50-person team from Langfuse (the stand-in).

    .venv/bin/python -m bench.usage_report                  # 500,000 generations
    .venv/bin/python -m bench.usage_report --generations 50000 --store /tmp/usage.sqlite

Loads the stand-in's store with generations spread over 30 days (50 users in 5 teams, 3 model
groups, 4 clients; cache reads on most; one request in 50 throttled then fallen back), starts
the stand-in on it, lets it map its store once (a warm-up read: real Langfuse has its rows
ready), then times the report's own work: every page of the v2 observations API through the
official SDK, aggregated by user, model and day (the default), and again by team (which adds
the metadata field group). Only generation spans are loaded: Langfuse filters the type in
ClickHouse, and roots would only slow the stand-in. A `--store` file is reused if it exists.

Prints generations, pages, wall seconds (and the CPU seconds of the report's own process: the
rest is the stand-in serving pages) and generations per second; the figures belong in the
README ("Usage report"). The stand-in serves pages from one Python process on the same
machine, so the time is an upper bound for the client side against a real server.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from llmops_kit.commands.report import read
from llmops_kit.report_data import Window
from tests.fakes.langfuse import traffic
from tests.fakes.langfuse.harness import running_langfuse
from tests.fakes.langfuse.store import Store

DAYS = 30
END = datetime(2026, 11, 30, tzinfo=UTC)
MODELS = (
    ("claude-sonnet", "bedrock/converse/us.anthropic.claude-sonnet-4-6", 3.3e-6, 1.65e-5),
    ("claude-opus", "bedrock/converse/us.anthropic.claude-opus-5-5", 4.4e-6, 2.2e-5),
    (
        "claude-haiku",
        "bedrock/converse/us.anthropic.claude-haiku-4-5-20251001-v1:0",
        1.1e-6,
        5.5e-6,
    ),
)
CLIENTS = ("claude-cli/2.1.328 (external, cli)", "Cline/3.38.2", "codex_cli_rs/0.63.0", "curl/8")


def calls(generations: int, seed: int = 7) -> Iterator[traffic.Call]:
    """About `generations` generations: requests of one attempt, 1 in 50 with a fallback."""
    rng = random.Random(seed)
    start = (END - timedelta(days=DAYS)).timestamp()
    step = DAYS * 86400 / generations
    made = 0
    while made < generations:
        group, deployment, input_price, output_price = rng.choice(MODELS)
        tokens = (rng.randint(500, 20_000), rng.randint(50, 4_000), rng.randint(0, 150_000))
        answer = traffic.Try(
            group,
            deployment,
            traffic.usage(tokens[0], tokens[1], cache_read=tokens[2]),
            traffic.cost(
                tokens[0] * input_price,
                tokens[1] * output_price,
                cache_read=tokens[2] * input_price / 10,
            ),
            seconds=rng.uniform(1, 30),
            ttft=rng.uniform(0.3, 3),
        )
        tries: tuple[traffic.Try, ...] = (answer,)
        if rng.random() < 0.02:
            throttled = traffic.Try(
                group, deployment, traffic.usage(0, 0), traffic.cost(0, 0), failed=True
            )
            tries = (throttled, replace(answer, fallback=1))
        user = rng.randrange(50)
        yield traffic.Call(
            call_id=f"bench-{made}",
            start=start + made * step,
            user=f"user{user:02d}",
            team=f"team{user % 5}",
            user_agent=rng.choice(CLIENTS),
            group=group,
            tries=tries,
            session=f"session-{user}-{made // 200}",
        )
        made += len(tries)


def generation_documents(call: traffic.Call) -> list[dict]:
    return [d for d in traffic.span_documents(call) if d["span"].get("parentSpanId")]


def load(path: Path, generations: int) -> None:
    store = Store(path)
    batch: list[dict] = []
    for call in calls(generations):
        batch += generation_documents(call)
        if len(batch) >= 5000:
            traffic.record(store, batch)
            batch = []
    if batch:
        traffic.record(store, batch)


def timed(url: str, keys: tuple[str, str], dimensions: tuple[str, ...]) -> None:
    period = Window(END - timedelta(days=DAYS), END)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = read(url, keys, period, dimensions)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    count = result.totals.generations
    print(
        f"by {'/'.join(dimensions)}: {count:,} generations, {-(-count // 1000)} pages, "
        f"{seconds:.1f} s ({cpu:.1f} s CPU in the report's process), "
        f"{count / seconds:,.0f} generations/s, cost ${result.totals.cost:,.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=500_000)
    parser.add_argument("--store", type=Path, help="Keep (and reuse) the stand-in's store here.")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="usage-report-") as scratch:
        path = arguments.store or Path(scratch) / "langfuse.sqlite"
        if not path.exists():
            started = time.perf_counter()
            load(path, arguments.generations)
            print(f"loaded the store in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        with running_langfuse(store_path=path) as langfuse:
            keys = (langfuse.public_key, langfuse.secret_key)
            started = time.perf_counter()
            warm_up = httpx.get(
                f"{langfuse.url}/api/public/v2/observations?limit=1",
                headers={"Authorization": langfuse.basic_auth},
                timeout=3600,
            )
            warm_up.raise_for_status()  # the stand-in maps its whole store once
            print(f"stand-in warm-up {time.perf_counter() - started:.0f} s", file=sys.stderr)
            timed(langfuse.url, keys, ("user", "model", "day"))
            timed(langfuse.url, keys, ("team",))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"report process peak RSS {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
