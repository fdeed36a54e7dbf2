"""The kit's callback in-process: CPU per request for a Cline-sized prompt with tools.

    python -m bench.callback_cpu [--iterations 100] [--prompt-kb 100]

LiteLLM itself (with a mock answer, no network) produces the hook arguments for the request of
bench/payload.py, as it hands them to a callback; the proxy's metadata (key alias, user
agent) is added. Two figures per request, with the kit's default settings:

    hook       the proxy's side, this thread's CPU: the hook turns the arguments into an
               event and hands it to the delivery process the callback started
    recording  what that delivery process does with each event (input choice, redaction,
               mapping to spans, OTLP encoding, the spool write; not the fsync, which is the
               worker's), run here on this thread on the same events, so its CPU is
               measured precisely

Two cases:

    new_task   every string new but the roles, as in a new Cline task: the whole prompt is
               redacted, encoded and spooled and a new session digested, nothing remembered
               from before (the worst case)
    resend     the same conversation sent again in its session, as Cline does every turn:
               the redactor's memory and the input delta apply

With LANGFUSE_HOST and the keys set (the benchmark points them at the Langfuse stand-in),
the delivery process's own CPU is measured too (recording, sync and export of the handed-off
events, until the spool is empty; utime + stime from /proc/<pid>/stat, in clock ticks of
10 ms, hence the mean over many requests). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from callbacks.spool_health import read_spool_health

from . import proxy_stats
from .payload import DEFAULT_PROMPT_KB, MODEL_GROUP, chat_request

BEDROCK_MODEL = "bedrock/converse/us.anthropic.claude-sonnet-4-6"
MOCK_ANSWER = "I will read the settings loader first."
DRAIN_TIMEOUT_S = 60.0
DRAIN_POLL_S = 0.1


def logging_kwargs(prompt_kb: int) -> dict[str, Any]:
    """The kwargs LiteLLM passes to a logger's success hook for the benchmark's request."""
    # Imported only now, after main() pinned LITELLM_LOCAL_MODEL_COST_MAP: at import time
    # LiteLLM would otherwise fetch its price map from the network.
    import litellm
    from litellm.integrations.custom_logger import CustomLogger

    captured: list[dict[str, Any]] = []

    class Capture(CustomLogger):
        def log_success_event(self, kwargs, response_obj, start_time, end_time):
            captured.append(kwargs)

    litellm.callbacks = [Capture()]
    request = chat_request(prompt_kb)
    request.pop("model")
    request.pop("stream")
    litellm.completion(
        model=BEDROCK_MODEL, mock_response=MOCK_ANSWER, aws_region_name="us-east-1", **request
    )
    deadline = time.monotonic() + 30
    while not captured and time.monotonic() < deadline:
        time.sleep(0.01)
    litellm.callbacks = []
    if not captured:
        raise RuntimeError("LiteLLM never called the capturing logger")
    kwargs = captured[0]
    kwargs["standard_logging_object"]["model_group"] = MODEL_GROUP
    metadata = kwargs.setdefault("litellm_params", {}).setdefault("metadata", {})
    metadata.update(
        user_api_key_alias="bench-developer",
        user_api_key_user_id="bench@example.com",
        headers={"user-agent": "Cline/3.40.0"},
    )
    return kwargs


def _renamed(value: Any, suffix: str) -> Any:
    """`value` with every string but the roles changed, so no earlier result can be
    remembered; the roles stay, as a new task's messages keep theirs (its session digest
    depends on them)."""
    if isinstance(value, str):
        return f"{value} {suffix}"
    if isinstance(value, list):
        return [_renamed(item, suffix) for item in value]
    if isinstance(value, dict):
        return {
            key: item if key == "role" else _renamed(item, suffix) for key, item in value.items()
        }
    return value


def variants(base: dict[str, Any], count: int, *, new_task: bool) -> Iterator[dict[str, Any]]:
    """One hook call's kwargs per request: a new call id each; new strings if `new_task`."""
    for index in range(count):
        call_id = str(uuid.uuid4())
        payload = dict(base["standard_logging_object"])
        payload.update(id=call_id, litellm_call_id=call_id, trace_id=str(uuid.uuid4()))
        if new_task:
            payload["messages"] = _renamed(payload["messages"], f"#{index}")
        yield {**base, "litellm_call_id": call_id, "standard_logging_object": payload}


def _costs_ms(work: Callable[[Any], None], items: list[Any]) -> tuple[list[float], list[float]]:
    """This thread's CPU and the wall time of each call."""
    cpu: list[float] = []
    wall: list[float] = []
    for item in items:
        cpu_started, wall_started = time.thread_time(), time.perf_counter()
        work(item)
        cpu.append((time.thread_time() - cpu_started) * 1000)
        wall.append((time.perf_counter() - wall_started) * 1000)
    return cpu, wall


def _spans_recorded(spool_dir: Path) -> int:
    """Spans the spool ever took in: still waiting plus delivered (0 before it exists)."""
    try:
        health = read_spool_health(spool_dir)
    except (FileNotFoundError, sqlite3.Error):  # the delivery process is still creating it
        return 0
    return health["backlog_spans"] + health["delivered"]


def _wait_until(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(DRAIN_POLL_S)
    return False


def _wait_until_delivered(spool_dir: Path) -> bool:
    return _wait_until(lambda: read_spool_health(spool_dir)["backlog_spans"] == 0)


def _recorder(package: str, spool_dir: Path) -> Any:
    """A recorder as the delivery process builds it, on a spool of its own."""
    delivery = importlib.import_module(f"{package}.delivery")
    settings = importlib.import_module(f"{package}.callback_settings").CallbackSettings.from_env(
        {**os.environ, "LLMOPS_SPOOL_DIR": str(spool_dir)}
    )
    return delivery.Recorder(
        settings,
        delivery.open_spool(settings, deferred_sync=True),
        delivery.Redactor.from_env(os.environ),
        wake=lambda: None,
    )


def measure(iterations: int, prompt_kb: int) -> dict[str, Any]:
    """Run both cases and return the figures (milliseconds of CPU per request)."""
    spool_dir = Path(os.environ["LLMOPS_SPOOL_DIR"])
    exporting = bool(os.environ.get("LANGFUSE_PUBLIC_KEY") and os.environ.get("LANGFUSE_HOST"))
    base = logging_kwargs(prompt_kb)
    # Imported only now: loading the callback builds its runtime from the environment.
    from callbacks.langfuse_v4 import handler, load_package

    package = load_package().__name__
    runtime = importlib.import_module(f"{package}.runtime")
    recorder = _recorder(package, Path(os.environ["LLMOPS_SPOOL_DIR"]) / "in-process")
    events: list[bytes] = []
    encode_event = importlib.import_module(f"{package}.recorder").encode_event
    hand_off = handler._hand_off

    def keeping(event: Any) -> None:  # what the hook hands off, kept to record here too
        events.append(encode_event(event))
        hand_off(event)

    handler._hand_off = keeping

    def hook(kwargs: dict[str, Any]) -> None:
        payload = kwargs["standard_logging_object"]
        handler.log_success_event(kwargs, None, payload["startTime"], payload["endTime"])

    decode_event = importlib.import_module(f"{package}.recorder").decode_event

    def record(event: bytes) -> None:
        decode_event(event).apply_to(recorder)

    hook(next(variants(base, 1, new_task=True)))  # one-time costs, not measured
    record(events.pop())
    delivery_pid = runtime.delivery_pid()
    if delivery_pid is None:
        raise RuntimeError("the callback did not start; its log says why")
    _wait_until(lambda: _spans_recorded(spool_dir) > 0)  # the delivery process is up
    if exporting:
        _wait_until_delivered(spool_dir)
    cases: dict[str, Any] = {}
    for name, new_task in (("new_task", True), ("resend", False)):
        calls = list(variants(copy.deepcopy(base), iterations, new_task=new_task))
        recorded_before = _spans_recorded(spool_dir)
        export_started = proxy_stats.cpu_seconds(delivery_pid)
        hook_costs, _ = _costs_ms(hook, calls)
        wanted = recorded_before + iterations
        if not _wait_until(lambda wanted=wanted: _spans_recorded(spool_dir) >= wanted):
            raise RuntimeError("the callback did not spool every request; its log says why")
        handed, events[:] = list(events), []
        costs, walls = _costs_ms(record, handed)
        case: dict[str, Any] = {
            "requests": iterations,
            "cpu_ms_median": round(statistics.median(costs), 3),
            "cpu_ms_mean": round(statistics.fmean(costs), 3),
            "cpu_ms_max": round(max(costs), 3),
            "wall_ms_median": round(statistics.median(walls), 3),
            "hook_cpu_ms_mean": round(statistics.fmean(hook_costs), 3),
        }
        if exporting and _wait_until_delivered(spool_dir):
            export_ms = (proxy_stats.cpu_seconds(delivery_pid) - export_started) * 1000
            case["export_cpu_ms_mean"] = round(export_ms / iterations, 3)
        cases[name] = case
    return {
        "prompt_kb": prompt_kb,
        "request_bytes": len(json.dumps(chat_request(prompt_kb))),
        "log_input": os.environ.get("LLMOPS_LOG_INPUT") or "default",
        "cases": cases,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.callback_cpu", description=__doc__)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--prompt-kb", type=int, default=DEFAULT_PROMPT_KB)
    arguments = parser.parse_args(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # Never the network: without a stand-in, exports are refused on loopback (the discard
    # port) and the spans stay spooled, which is all this measures.
    os.environ.setdefault("LANGFUSE_HOST", "http://127.0.0.1:9")
    with tempfile.TemporaryDirectory(prefix="bench-spool-") as spool_dir:
        os.environ.setdefault("LLMOPS_SPOOL_DIR", spool_dir)
        result = measure(arguments.iterations, arguments.prompt_kb)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
