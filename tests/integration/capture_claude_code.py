"""Capture what the real Claude Code sends, offline, into data/claude_code_requests.json.

    npm install --prefix /tmp/cc @anthropic-ai/claude-code@2.1.332   # the native binary
    python -m tests.integration.capture_claude_code /tmp/cc/node_modules/.bin/claude

Each scenario runs the binary with an empty HOME and only ANTHROPIC_BASE_URL (a loopback
recorder that answers like the Messages API), ANTHROPIC_AUTH_TOKEN and
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 set, plus the scenario's own variables. Rerun it
when Claude Code changes; the tests that read the file say what must stay true.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).parent / "data" / "claude_code_requests.json"
TOKEN = "sk-capture-token"
TRIM = 240
DROPPED_HEADERS = {"host", "content-length", "connection", "accept-encoding"}
AGENT_CALL = {
    "name": "Agent",
    "input": {
        "description": "look around",
        "prompt": "List files",
        "subagent_type": "Explore",
        "run_in_background": False,
    },
}
SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {"argv": ["-p", "say pong", "--output-format", "json"], "env": {}},
    "model_haiku": {"argv": ["-p", "say pong", "--model", "haiku"], "env": {}},
    "model_sonnet": {"argv": ["-p", "say pong", "--model", "sonnet"], "env": {}},
    "env_sonnet_4_6_1m": {
        "argv": ["-p", "say pong"],
        "env": {"ANTHROPIC_MODEL": "claude-sonnet-4-6[1m]"},
    },
    "subagent": {
        "argv": ["-p", "explore"],
        "env": {},
        "note": "the recorder answered the first turn with an Agent tool_use (subagent_type "
        "Explore); the subagent's request carries x-claude-code-agent-id",
    },
    "interactive": {
        "argv": [],
        "env": {"TERM": "xterm"},
        "note": "interactive session in a pty, prompt 'say pong'",
    },
}


def _events(model: str, block: dict[str, Any], delta: dict[str, Any], stop: str) -> bytes:
    message = {
        "id": "msg_capture",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    }
    events = [
        ("message_start", {"type": "message_start", "message": message}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        ),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop},
                "usage": {"output_tokens": 2},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join(f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in events).encode()


def _answer(body: dict[str, Any], tool_call: dict[str, Any] | None) -> bytes:
    model = body.get("model", "")
    results = any(
        isinstance(m.get("content"), list)
        and any(part.get("type") == "tool_result" for part in m["content"])
        for m in body.get("messages", [])
    )
    offered = {t.get("name") for t in body.get("tools", [])}
    if tool_call and not results and tool_call["name"] in offered:
        block = {"type": "tool_use", "id": "toolu_capture", "name": tool_call["name"], "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(tool_call["input"])}
        return _events(model, block, delta, "tool_use")
    return _events(
        model, {"type": "text", "text": ""}, {"type": "text_delta", "text": "pong"}, "end_turn"
    )


@contextmanager
def recorder(tool_call: dict[str, Any] | None) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback Messages API that records each request and streams a short answer."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            body = json.loads(raw) if raw else {}
            seen.append(
                {"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body}
            )
            payload = _answer(body, tool_call)
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _run_interactive(binary: str, env: dict[str, str], cwd: str) -> None:
    """Type a prompt into an interactive session in a pty, wait for the turn, quit."""
    Path(env["HOME"], ".claude.json").write_text(
        json.dumps(
            {
                "hasCompletedOnboarding": True,
                "projects": {cwd: {"hasTrustDialogAccepted": True}},
            }
        )
    )
    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.chdir(cwd)
        os.execve(binary, [binary], env)

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    os.read(fd, 65536)
                except OSError:
                    return

    pump(6)
    os.write(fd, b"say pong")
    pump(1)
    os.write(fd, b"\r")
    pump(10)
    os.write(fd, b"\x03\x03")
    pump(1)
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def _trim(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= TRIM else f"{value[:TRIM]}...[{len(value)} chars]"
    if isinstance(value, list):
        return [_trim(v) for v in value]
    if isinstance(value, dict):
        return {k: _trim(v) for k, v in value.items()}
    return value


def capture(binary: str, version: str) -> dict[str, Any]:
    scenarios: dict[str, Any] = {}
    tools: dict[str, Any] = {}
    for name, scenario in SCENARIOS.items():
        tool_call = AGENT_CALL if name == "subagent" else None
        with recorder(tool_call) as (url, seen), tempfile.TemporaryDirectory() as scratch:
            home, work = Path(scratch, "home"), Path(scratch, "work")
            home.mkdir()
            work.mkdir()
            env = {
                "PATH": "/usr/bin:/bin",
                "HOME": str(home),
                "ANTHROPIC_BASE_URL": url,
                "ANTHROPIC_AUTH_TOKEN": TOKEN,
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                **scenario["env"],
            }
            if scenario["argv"]:
                subprocess.run(
                    [binary, *scenario["argv"]], env=env, cwd=work, capture_output=True, timeout=120
                )
            else:
                _run_interactive(binary, env, str(work))
        requests = []
        for request in seen:
            headers = {
                k.lower(): v
                for k, v in request["headers"].items()
                if k.lower() not in DROPPED_HEADERS
            }
            headers["authorization"] = "Bearer <ANTHROPIC_AUTH_TOKEN>"
            body = _trim(request["body"])
            for tool in body.get("tools", []):
                tools.setdefault(tool["name"], tool)
            body["tools"] = [tool["name"] for tool in body.get("tools", [])]
            requests.append(
                {
                    "method": "POST",
                    "path": request["path"],
                    "headers": dict(sorted(headers.items())),
                    "body": body,
                }
            )
        scenarios[name] = {**scenario, "requests": requests}
    return {
        "about": f"Request shapes sent by Claude Code {version}, captured offline by "
        "tests/integration/capture_claude_code.py. Environment: only HOME (empty temp dir), "
        "ANTHROPIC_BASE_URL, ANTHROPIC_AUTH_TOKEN, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 "
        "plus each scenario's env. Each body's `tools` lists tool names; their definitions (as "
        "first seen, trimmed) are in `tool_definitions`. Authorization replaced by a "
        "placeholder; Host/Content-Length/Connection/Accept-Encoding dropped; strings longer "
        f"than {TRIM} characters cut and marked '...[N chars]'.",
        "claude_code_version": version,
        "scenarios": scenarios,
        "tool_definitions": tools,
    }


def main() -> None:
    binary = sys.argv[1]
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()[
        0
    ]
    OUTPUT.write_text(json.dumps(capture(binary, version), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
