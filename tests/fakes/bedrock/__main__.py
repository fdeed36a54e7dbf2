"""`python -m tests.fakes.bedrock`: serve the Bedrock Runtime stand-in until stopped.

Once listening it prints one line, `listening on http://HOST:PORT`, to stdout (with --port 0
that is how a caller learns the port) and nothing else there; logs go to stderr.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Sequence

import uvicorn

from .faults import DEFAULT_SLOW_FIRST_BYTE_MS, KINDS, Fault, parse_fault_option
from .server import BedrockStandIn, FakeOptions
from .sigv4 import AuthConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.bedrock",
        description=(
            "A wire-faithful AWS Bedrock Runtime stand-in (Converse, ConverseStream, CountTokens)."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument(
        "--access-key-id",
        default=os.environ.get("FAKE_BEDROCK_ACCESS_KEY_ID"),
        help="access key id SigV4 callers must use (env FAKE_BEDROCK_ACCESS_KEY_ID)",
    )
    parser.add_argument(
        "--secret-access-key",
        default=os.environ.get("FAKE_BEDROCK_SECRET_ACCESS_KEY"),
        help="its secret; prefer the env FAKE_BEDROCK_SECRET_ACCESS_KEY over the command line",
    )
    parser.add_argument(
        "--bearer-token",
        default=os.environ.get("FAKE_BEDROCK_BEARER_TOKEN"),
        help="accept `Authorization: Bearer <token>` (env FAKE_BEDROCK_BEARER_TOKEN)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="MODEL_ID=KIND[:COUNT]",
        help=f"repeatable; KIND is one of {', '.join(KINDS)}; COUNT fails only the first calls",
    )
    parser.add_argument(
        "--slow-first-byte-ms",
        type=int,
        default=DEFAULT_SLOW_FIRST_BYTE_MS,
        help="delay of the slow_first_byte faults given with --fault",
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="wait before every answer")
    parser.add_argument(
        "--token-interval-ms", type=int, default=0, help="wait between stream deltas"
    )
    parser.add_argument(
        "--known-model",
        action="append",
        default=[],
        metavar="MODEL_ID",
        help="repeatable; accept only these ids (default: any `[prefix.]anthropic.claude-...`)",
    )
    return parser


def _options(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> FakeOptions:
    has_key_pair = bool(arguments.access_key_id and arguments.secret_access_key)
    if not has_key_pair and not arguments.bearer_token:
        parser.error("configure a key pair (--access-key-id/--secret-access-key) or --bearer-token")
    faults: dict[str, Fault] = {}
    for option in arguments.fault:
        try:
            model_id, fault = parse_fault_option(option, delay_ms=arguments.slow_first_byte_ms)
        except ValueError as problem:
            parser.error(f"--fault {option}: {problem}")
        faults[model_id] = fault
    return FakeOptions(
        auth=AuthConfig(
            access_key_id=arguments.access_key_id,
            secret_access_key=arguments.secret_access_key,
            bearer_token=arguments.bearer_token,
        ),
        faults=faults,
        latency_ms=arguments.latency_ms,
        token_interval_ms=arguments.token_interval_ms,
        known_models=frozenset(arguments.known_model),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    arguments = parser.parse_args(argv)
    options = _options(arguments, parser)
    listener = socket.create_server((arguments.host, arguments.port), backlog=2048)
    host, port = listener.getsockname()[:2]
    config = uvicorn.Config(
        BedrockStandIn(options).app(),
        log_level="warning",
        access_log=False,
        timeout_keep_alive=75,
        timeout_graceful_shutdown=2,
        server_header=False,
    )
    print(f"listening on http://{host}:{port}", flush=True)
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
