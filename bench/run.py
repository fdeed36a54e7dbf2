"""`python -m bench.run [--quick] [--out bench/results/latest.json]`: what the proxy costs.

Starts the Bedrock stand-in (fixed latency, fixed token cadence) and the Langfuse stand-in,
then, round after round, each proxy configuration of bench/configs.py in turn, one at a time
(the machine's cores are shared by the proxy, both stand-ins and the load generator), with
`manage_langfuse.py proxy` through the shared test harness. Each configuration gets the
same phases (see PHASES); the stand-in is also loaded directly, with the exact request the
proxy sends it, so the proxy's overhead is measured against the stand-in's own latency.
The configurations' order rotates each round. Last, the callback's own CPU in-process.

Prints the table and the ratios (last lines), writes the JSON report. Everything stays on
loopback. Isolated from the user's setup: the proxies and the callback process get the
developer's environment without any kit variable (AWS_*, LANGFUSE_*, LITELLM_*, LLMOPS_*,
DATABASE_URL...) plus their own settings, and LiteLLM reads no `.env` (the repository's is
the user's; callbacks/proxy_entrypoint.py). Never run as a test:
tests/unit/test_bench_smoke.py checks only its shape.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml

from tests.fakes.bedrock.harness import RunningBedrock, running_bedrock
from tests.fakes.langfuse.harness import LangfuseStandIn, running_langfuse
from tests.integration.proxy_harness import RunningProxy, isolated_environment, start_proxy

from . import report, table
from .configs import LIMITED_TEAMS, Configuration, configurations
from .measure import REPO_ROOT, Phase, Target, run_phase
from .payload import DEFAULT_PROMPT_KB, chat_body

DEFAULT_OUT = REPO_ROOT / "bench" / "results" / "latest.json"
UPSTREAM_LATENCY_MS = 50
TOKEN_INTERVAL_MS = 20
PHASES = (
    Phase("latency", concurrency=4, stream=False),
    Phase("saturation", concurrency=32, stream=False),
    Phase("stream", concurrency=4, stream=True),
)
PROBE_TIMEOUT_S = 60.0
CALLBACK_TIMEOUT_S = 300.0
FIRST_EXPORT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Plan:
    """How long and how often: the quick run differs from the full one only here."""

    repetitions: int
    warmup_s: float
    duration_s: float
    callback_iterations: int


FULL = Plan(repetitions=3, warmup_s=1.5, duration_s=4.0, callback_iterations=200)
QUICK = Plan(repetitions=1, warmup_s=0.5, duration_s=1.5, callback_iterations=5)


class ProbeFailed(RuntimeError):
    """The proxy did not answer the first request; the message holds its log's tail."""


@dataclass
class Bench:
    """The stand-ins and files every measurement shares."""

    plan: Plan
    bedrock: RunningBedrock
    bedrock_token: str
    langfuse: LangfuseStandIn
    work: Path
    body: Path
    stream_body: Path
    converse_body: Path
    model_id: str = ""  # the Bedrock model id the proxy called, learnt by the first probe

    def measure(self, target: Target, neighbours: Mapping[str, int]) -> dict[str, Any]:
        phases = {}
        for phase in PHASES:
            phases[phase.name] = run_phase(
                target,
                phase,
                warmup_s=self.plan.warmup_s,
                duration_s=self.plan.duration_s,
                neighbours=neighbours,
            )
            self.bedrock.reset()  # its call log keeps every request: keep it small
        return {"phases": phases}

    def measure_proxy(self, configuration: Configuration, round_number: int) -> dict[str, Any]:
        """Start the proxy as configured, probe it, run the phases, stop it."""
        started = time.monotonic()
        self.bedrock.reset()
        self.langfuse.reset()
        work_dir = self.work / f"{configuration.key}-{round_number}"
        environment = configuration.proxy_environment(self.langfuse)
        key = None
        if configuration.developer_key is not None:
            key, environment = _developer_key(work_dir, environment, configuration.developer_key)
        with start_proxy(
            self.bedrock,
            work_dir,
            callbacks=configuration.callbacks,
            env_overrides=environment,
        ) as proxy:
            self._probe(proxy)
            target = Target(
                port=httpx.URL(proxy.url).port or 80,
                url=f"{proxy.openai_url}/chat/completions",
                stream_url=f"{proxy.openai_url}/chat/completions",
                body_file=self.body,
                stream_body_file=self.stream_body,
                authorization=f"Bearer {key or proxy.master_key}",
            )
            stand_ins = {
                "bedrock_stand_in": self.bedrock.port,
                "langfuse_stand_in": self.langfuse.port,
            }
            result = self.measure(target, stand_ins)
            if configuration.exports_traces:
                result["langfuse_exports"] = self._exports()
        result["wall_s"] = round(time.monotonic() - started, 1)  # start and stop included
        return result

    def _exports(self) -> dict[str, Any]:
        """What the Langfuse stand-in got: export requests by answer, spans stored. Waits for
        the first stored span, which shows the export works (LiteLLM's exporter sends a batch
        every 5 s); a 413 is a batch over Langfuse's 4.5 MB limit, its spans lost."""
        deadline = time.monotonic() + FIRST_EXPORT_TIMEOUT_S
        while True:
            requests = self.langfuse.otlp_requests()
            stored = sum(request["storedSpans"] or 0 for request in requests)
            if stored or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        answers = Counter(str(request["status"]) for request in requests)
        return {"requests_by_status": dict(answers), "spans_stored": stored}

    def _probe(self, proxy: RunningProxy) -> None:
        """One request through the proxy; keeps what the proxy sent upstream, for `upstream`."""
        response = httpx.post(
            f"{proxy.openai_url}/chat/completions",
            content=self.body.read_bytes(),
            headers={
                "Authorization": f"Bearer {proxy.master_key}",
                "Content-Type": "application/json",
            },
            timeout=PROBE_TIMEOUT_S,
        )
        if response.status_code != 200:
            raise ProbeFailed(
                f"the proxy answered {response.status_code} to the first request:\n"
                f"{response.text[:500]}\n{proxy.log_tail()}"
            )
        call = self.bedrock.calls()[-1]
        self.converse_body.write_text(json.dumps(call["request"]), encoding="utf-8")
        self.model_id = call["model_id"]

    def measure_upstream(self) -> dict[str, Any]:
        """The stand-in loaded directly with the request the proxy sent it."""
        self.bedrock.reset()
        model_url = f"{self.bedrock.url}/model/{quote(self.model_id, safe='')}"
        target = Target(
            port=self.bedrock.port,
            url=f"{model_url}/converse",
            stream_url=f"{model_url}/converse-stream",
            body_file=self.converse_body,
            stream_body_file=self.converse_body,
            authorization=f"Bearer {self.bedrock_token}",
        )
        return self.measure(target, {})

    def measure_callback(self) -> dict[str, Any]:
        """bench.callback_cpu in its own process, exporting to the Langfuse stand-in."""
        self.langfuse.reset()
        env = {
            **isolated_environment(),
            "LANGFUSE_HOST": self.langfuse.url,
            "LANGFUSE_PUBLIC_KEY": self.langfuse.public_key,
            "LANGFUSE_SECRET_KEY": self.langfuse.secret_key,
            "LLMOPS_SPOOL_DIR": str(self.work / "callback-spool"),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
        command = [sys.executable, "-m", "bench.callback_cpu"]
        command += ["--iterations", str(self.plan.callback_iterations)]
        done = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=CALLBACK_TIMEOUT_S,
        )
        if done.returncode != 0:
            return {
                "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
            }
        return json.loads(done.stdout.strip().splitlines()[-1])


def _developer_key(
    work_dir: Path, environment: dict[str, str], entry: Mapping[str, object]
) -> tuple[str, dict[str, str]]:
    """A keys file with this one developer key, and the environment that points at it."""
    work_dir.mkdir(parents=True, exist_ok=True)
    key = "sk-bench-" + secrets.token_hex(16)
    keys = {"teams": LIMITED_TEAMS, "keys": [{"key": key, **entry}]}
    keys_file = work_dir / "keys.yml"
    keys_file.write_text(yaml.safe_dump(keys), encoding="utf-8")
    keys_file.chmod(0o600)
    ledger = {"LLMOPS_KEYS_FILE": str(keys_file), "LLMOPS_LEDGER_DIR": str(work_dir / "ledger")}
    return key, environment | ledger


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rounds(selected: Sequence[Configuration], count: int) -> list[list[Configuration]]:
    """The order of each round: rotated, so no configuration always runs first."""
    return [
        list(selected[r % len(selected) :]) + list(selected[: r % len(selected)])
        for r in range(count)
    ]


@dataclass(frozen=True)
class Measurements:
    """Everything measured: one run per round for each configuration, the stand-in once."""

    runs: dict[str, list[dict[str, Any]]]
    upstream: dict[str, Any]
    callback: dict[str, Any]
    duration_s: float


def measure_all(plan: Plan, selected: Sequence[Configuration], prompt_kb: int) -> Measurements:
    """Start the stand-ins, run every round, then the in-process callback measurement."""
    started = time.monotonic()
    token = secrets.token_hex(16)
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="llmops-bench-")))
        bedrock = stack.enter_context(
            running_bedrock(
                latency_ms=UPSTREAM_LATENCY_MS,
                token_interval_ms=TOKEN_INTERVAL_MS,
                bearer_token=token,
            )
        )
        langfuse = stack.enter_context(running_langfuse())
        body, stream_body = work / "request.json", work / "request-stream.json"
        body.write_bytes(chat_body(prompt_kb))
        stream_body.write_bytes(chat_body(prompt_kb, stream=True))
        bench = Bench(
            plan, bedrock, token, langfuse, work, body, stream_body, work / "converse.json"
        )
        runs: dict[str, list[dict[str, Any]]] = {c.key: [] for c in selected}
        upstream: dict[str, Any] | None = None
        for number, order in enumerate(rounds(selected, plan.repetitions)):
            for configuration in order:
                _progress(f"round {number + 1}/{plan.repetitions}: {configuration.title}")
                runs[configuration.key].append(bench.measure_proxy(configuration, number))
                if upstream is None:  # the first probe told what the proxy sends upstream
                    _progress("the Bedrock stand-in, directly")
                    upstream = bench.measure_upstream()
        _progress("the callback, in-process")
        callback = bench.measure_callback()
    assert upstream is not None
    return Measurements(runs, upstream, callback, round(time.monotonic() - started, 1))


def build_report(
    measured: Measurements,
    plan: Plan,
    selected: Sequence[Configuration],
    *,
    prompt_kb: int,
    quick: bool,
) -> dict[str, Any]:
    runs, upstream = measured.runs, measured.upstream
    return {
        "benchmark": "llmops-kit proxy overhead",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": measured.duration_s,
        "machine": report.machine(),
        "settings": {
            "quick": quick,
            "repetitions": plan.repetitions,
            "warmup_s": plan.warmup_s,
            "duration_s": plan.duration_s,
            "upstream_latency_ms": UPSTREAM_LATENCY_MS,
            "token_interval_ms": TOKEN_INTERVAL_MS,
            "prompt_kb": prompt_kb,
            "phases": {p.name: {"concurrency": p.concurrency, "stream": p.stream} for p in PHASES},
        },
        "upstream": {"runs": [upstream], "summary": report.summarize([upstream], upstream)},
        "configurations": {
            c.key: {
                "title": c.title,
                "callbacks": list(c.callbacks),
                "environment": dict(c.environment),
                "runs": runs[c.key],
                "summary": report.summarize(runs[c.key], upstream),
            }
            for c in selected
        },
        "callback": measured.callback | report.callback_check(measured.callback),
        "ratios": [ratio.evaluate(runs, upstream) for ratio in report.RATIOS],
        "notes": {"no_slower": report.SPREAD_RULE},
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="one short round: checks the benchmark runs"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON report"
    )
    parser.add_argument(
        "--configs",
        default="abcd",
        help="configurations to run, e.g. 'ac' (default abcd; e, f: keys with, without limits)",
    )
    parser.add_argument(
        "--prompt-kb",
        type=int,
        default=DEFAULT_PROMPT_KB,
        help="request size (default: Cline-sized)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    arguments = _parser().parse_args(argv)
    available = configurations()
    unknown = sorted(set(arguments.configs) - set(available))
    if unknown or not arguments.configs:
        _parser().error(
            f"--configs takes letters from {''.join(available)}, got {arguments.configs!r}"
        )
    selected = [available[key] for key in available if key in arguments.configs]
    plan = QUICK if arguments.quick else FULL
    measured = measure_all(plan, selected, arguments.prompt_kb)
    result = build_report(
        measured, plan, selected, prompt_kb=arguments.prompt_kb, quick=arguments.quick
    )
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table.render(result))
    print(f"(report written to {arguments.out})", file=sys.stderr)


if __name__ == "__main__":
    main()
