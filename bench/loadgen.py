"""A closed-loop HTTP load generator, in its own process so that its CPU is never the proxy's.

    BENCH_AUTHORIZATION='Bearer sk-...' python -m bench.loadgen --url http://127.0.0.1:N/v1/... \
        --body-file request.json --concurrency 8 --warmup-s 2 --duration-s 6 [--stream] \
        [--header 'anthropic-version: 2023-06-01' ...]

`concurrency` clients each send one request, wait for the whole answer, and send the next,
on kept-alive connections. Only requests that end inside the measured window count, so the
server's CPU over the window divides by the requests it finished in it; those that end
during the warm-up (cold connections, first imports) or after the window do not. The key
travels in the environment, never on the command line.

Stdout, one JSON object per line: `{"event": "measure-start"}` and `{"event": "measure-end"}`
the moment the window opens and closes (so the caller can sample the server's CPU exactly
then), and last `{"event": "result", ...}` with latencies, time to first token (streams:
the first chunk carrying answer content), requests per second, errors, and this process's
own CPU over the window, so a saturated load generator is never mistaken for a slow proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from .stats import summarize

AUTHORIZATION_VARIABLE = "BENCH_AUTHORIZATION"
REQUEST_TIMEOUT_S = 60.0
MAX_ERROR_SAMPLES = 3
# An event-stream frame (Bedrock) carrying answer content: its header names the event type.
_EVENTSTREAM_DELTA = b"contentBlockDelta"


@dataclass
class Window:
    """The measured window and what completed inside it."""

    start: float
    end: float
    latencies_ms: list[float] = field(default_factory=list)
    ttfts_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def record(self, started: float, ended: float, ttft: float | None, error: str | None) -> None:
        if not self.start <= ended <= self.end:
            return
        if error is not None:
            self.errors += 1
            if len(self.error_samples) < MAX_ERROR_SAMPLES:
                self.error_samples.append(error)
            return
        self.latencies_ms.append((ended - started) * 1000)
        if ttft is not None:
            self.ttfts_ms.append((ttft - started) * 1000)


def _has_content(line: bytes) -> bool:
    """Whether an SSE `data:` line carries answer text or a tool call: an OpenAI chunk with
    content or tool calls, or an Anthropic `content_block_delta` (Messages API)."""
    if not line.startswith(b"data:"):
        return False
    payload = line[5:].strip()
    if not payload or payload == b"[DONE]":
        return False
    try:
        event = json.loads(payload)
    except ValueError:
        return False
    if event.get("type") == "content_block_delta":
        return True
    choices = event.get("choices") or []
    if not choices:
        return False
    delta = choices[0].get("delta") or {}
    return bool(delta.get("content") or delta.get("tool_calls"))


async def _read_stream(response: aiohttp.ClientResponse) -> float:
    """Read a streamed answer to its end; return when its first content arrived."""
    first: float | None = None
    if response.content_type == "text/event-stream":
        async for line in response.content:
            if first is None and _has_content(line):
                first = time.perf_counter()
    else:
        async for chunk in response.content.iter_any():
            if first is None and _EVENTSTREAM_DELTA in chunk:
                first = time.perf_counter()
    if first is None:
        raise ValueError("the stream ended without any content")
    return first


async def _client(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    stream: bool,
    window: Window,
) -> None:
    while time.perf_counter() < window.end:
        started = time.perf_counter()
        ttft: float | None = None
        error: str | None = None
        try:
            async with session.post(url, data=body, headers=headers) as response:
                if response.status != 200:
                    error = f"HTTP {response.status}: {(await response.text())[:200]}"
                elif stream:
                    ttft = await _read_stream(response)
                else:
                    await response.read()
        except (aiohttp.ClientError, TimeoutError, ValueError) as problem:
            error = f"{type(problem).__name__}: {problem}"[:200]
        window.record(started, time.perf_counter(), ttft, error)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


async def generate(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    concurrency: int,
    warmup_s: float,
    duration_s: float,
    stream: bool,
) -> dict[str, Any]:
    """Run the load and return the result record (see the module docstring)."""
    now = time.perf_counter()
    window = Window(start=now + warmup_s, end=now + warmup_s + duration_s)
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    headers = {"Content-Type": "application/json", **headers}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        clients = [
            asyncio.create_task(_client(session, url, body, headers, stream=stream, window=window))
            for _ in range(concurrency)
        ]
        await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
        _emit("measure-start")
        cpu_at_start = _cpu_seconds()
        await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
        cpu_used = _cpu_seconds() - cpu_at_start
        _emit("measure-end")
        await asyncio.gather(*clients)
    completed = len(window.latencies_ms)
    return {
        "concurrency": concurrency,
        "stream": stream,
        "duration_s": duration_s,
        "requests": completed,
        "errors": window.errors,
        "error_samples": window.error_samples,
        "requests_per_s": completed / duration_s,
        "latency_ms": summarize(window.latencies_ms),
        "ttft_ms": summarize(window.ttfts_ms) if stream else None,
        "loadgen_cpu_percent": 100 * cpu_used / duration_s,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--warmup-s", type=float, required=True)
    parser.add_argument("--duration-s", type=float, required=True)
    parser.add_argument("--stream", action="store_true", help="read the answer as a stream")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="an extra request header (repeatable; never a secret: use BENCH_AUTHORIZATION)",
    )
    return parser


def _headers(arguments: argparse.Namespace) -> dict[str, str]:
    """The extra headers, then the key from the environment."""
    headers = {}
    for header in arguments.header:
        name, separator, value = header.partition(":")
        if not separator or not name.strip():
            raise SystemExit(f"--header takes NAME:VALUE, got {header!r}")
        headers[name.strip()] = value.strip()
    authorization = os.environ.get(AUTHORIZATION_VARIABLE, "")
    return headers | ({"Authorization": authorization} if authorization else {})


def main(argv: list[str] | None = None) -> None:
    arguments = _parser().parse_args(argv)
    headers = _headers(arguments)
    try:
        import uvloop  # the proxy's own event loop: keeps the generator's CPU low
    except ImportError:
        run = asyncio.run
    else:
        run = uvloop.run
    result = run(
        generate(
            arguments.url,
            arguments.body_file.read_bytes(),
            headers,
            concurrency=arguments.concurrency,
            warmup_s=arguments.warmup_s,
            duration_s=arguments.duration_s,
            stream=arguments.stream,
        )
    )
    _emit("result", **result)


if __name__ == "__main__":
    main()
