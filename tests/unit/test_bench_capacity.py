"""The capacity benchmark's parts: what it sends, what it compares, how it computes the ratios.

No proxy is started and no figure is judged here (timings on a shared machine prove nothing);
`python -m bench.capacity --quick` runs the whole thing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import capacity, loadgen
from bench.configs import PRODUCTION_ENVIRONMENT
from bench.payload import messages_request
from callbacks.proxy_entrypoint import CAPACITY_ENVIRONMENT, LITELLM_ENVIRONMENT


def _phase(*, rps: float, cpu_percent: float, cpu_ms: float) -> dict[str, Any]:
    """A phase result as bench.measure.run_phase reports it (only what capacity reads)."""
    return {
        "requests_per_s": rps,
        "server_cpu_percent": cpu_percent,
        "server_cpu_ms_per_request": cpu_ms,
        "worker_rss_mb": 400.0,
        "server_rss_mb": 450.0,
        "latency_ms": {"p50": 100.0},
        "ttft_ms": {"p50": 60.0},
        "errors": 0,
        "gc_collections": [100, 10, 1],
    }


def test_the_claude_code_workload_sends_claude_codes_headers_but_never_the_key(
    tmp_path: Path,
) -> None:
    loads = {load.name: load for load in capacity.workloads(tmp_path, 100)}

    headers = dict(header.split(": ", 1) for header in loads["claude_code"].headers)
    assert loads["claude_code"].path == "/v1/messages"
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["x-claude-code-session-id"]
    assert "claude-code-20250219" in headers["anthropic-beta"]
    assert "authorization" not in {name.lower() for name in headers}
    assert loads["cline"].path == "/v1/chat/completions"
    assert loads["cline"].headers == ()


def test_both_workloads_stream_requests_of_the_chosen_size(tmp_path: Path) -> None:
    for load in capacity.workloads(tmp_path, 100):
        body = json.loads(load.body_file.read_bytes())
        assert 100 * 1024 <= load.body_file.stat().st_size < 110 * 1024, load.name
        assert body["stream"] is True, load.name


def test_the_claude_code_request_has_its_shape_and_ends_with_a_tool_result() -> None:
    request = messages_request(20)

    assert [block["type"] for block in request["system"]] == ["text"] * 3
    assert request["thinking"]["type"] == "adaptive"
    assert request["messages"][-1]["content"][0]["type"] == "tool_result"
    assert request["messages"][1]["content"][0]["type"] == "thinking"
    assert json.dumps(messages_request(20)) == json.dumps(request)  # deterministic


def test_stock_unsets_what_the_kit_tunes_and_the_kit_runs_as_in_production() -> None:
    settings = {setting.name: setting.environment for setting in capacity.SETTINGS}

    assert settings["stock"] == {name: "" for name in CAPACITY_ENVIRONMENT}
    assert settings["kit"] == PRODUCTION_ENVIRONMENT
    assert CAPACITY_ENVIRONMENT.items() <= LITELLM_ENVIRONMENT.items()


def test_requests_per_core_divide_the_rate_by_the_cores_the_proxy_used() -> None:
    figures = capacity.figures(_phase(rps=30.0, cpu_percent=60.0, cpu_ms=20.0))

    assert figures["requests_per_s_per_core"] == 50.0
    assert figures["full_collections"] == 1


def test_ratios_are_taken_within_each_round_and_held_to_their_targets() -> None:
    runs = {
        "stock": [
            {"cline": _phase(rps=10.0, cpu_percent=50.0, cpu_ms=20.0)},
            {"cline": _phase(rps=20.0, cpu_percent=100.0, cpu_ms=40.0)},
        ],
        "kit": [
            {"cline": _phase(rps=10.0, cpu_percent=35.0, cpu_ms=14.0)},
            {"cline": _phase(rps=20.0, cpu_percent=90.0, cpu_ms=36.0)},
        ],
    }

    ratios = {ratio["name"]: ratio for ratio in capacity.summarize(runs)["ratios"]}

    cpu = ratios["cline: kit/stock CPU per request"]
    assert (cpu["min"], cpu["max"], cpu["median"]) == (0.7, 0.9, 0.8)
    assert cpu["status"] == "pass"
    per_core = ratios["cline: kit/stock requests/s per core"]
    assert per_core["min"] == pytest.approx(1.1111, abs=1e-4)
    assert per_core["max"] == pytest.approx(1.4286, abs=1e-4)
    assert per_core["status"] == "pass"


def test_the_load_generator_sees_content_in_an_anthropic_stream() -> None:
    delta = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}}

    assert loadgen._has_content(b"data: " + json.dumps(delta).encode())
    assert not loadgen._has_content(b'data: {"type": "message_start", "message": {}}')
    assert not loadgen._has_content(b"event: content_block_delta")


def test_the_load_generator_takes_extra_headers_and_refuses_malformed_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(loadgen.AUTHORIZATION_VARIABLE, "Bearer sk-x")
    base = ["--url", "http://127.0.0.1:1/", "--body-file", "b", "--concurrency", "1"]
    base += ["--warmup-s", "0", "--duration-s", "1"]
    parsed = loadgen._parser().parse_args([*base, "--header", "anthropic-version: 2023-06-01"])

    assert loadgen._headers(parsed) == {
        "anthropic-version": "2023-06-01",
        "Authorization": "Bearer sk-x",
    }
    with pytest.raises(SystemExit, match="NAME:VALUE"):
        loadgen._headers(loadgen._parser().parse_args([*base, "--header", "no-colon"]))
