"""`python -m tests.fakes.langfuse --host H --port N [...]`: run the Langfuse stand-in."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import uvicorn

from .auth import MissingKeysError, Project
from .modes import BLACKHOLE, NORMAL, Mode, ModeSwitch
from .server import DEFAULT_MAX_BODY_BYTES, FakeLangfuse, create_app, create_worker_app
from .store import Store

GRACEFUL_SHUTDOWN_S = 1


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.langfuse",
        description="A wire-faithful Langfuse v4 stand-in for tests. Project keys come from "
        "LANGFUSE_INIT_PROJECT_PUBLIC_KEY and LANGFUSE_INIT_PROJECT_SECRET_KEY, ids from "
        "LANGFUSE_INIT_PROJECT_ID and LANGFUSE_INIT_ORG_ID, as for the langfuse-web image.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--mode",
        choices=(NORMAL, BLACKHOLE),
        default=NORMAL,
        help="blackhole: accept requests and never answer (the /_fake/ API still answers)",
    )
    parser.add_argument(
        "--worker",
        action="store_true",
        help="be the langfuse-worker instead: serve only GET /api/health and /api/ready",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help="export bodies above this size get 413 (default: 4.5 MiB, Next.js's 4.5mb). "
        "Self-hosted Langfuse reads OTLP bodies without a limit; a proxy in front may set one",
    )
    parser.add_argument(
        "--store",
        type=Path,
        help="keep requests and spans in this SQLite file, so they survive a restart",
    )
    parser.add_argument(
        "--ingestion-delay-s",
        type=float,
        default=0.0,
        help="observations become readable this long after their span arrived",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    if arguments.worker:
        app = create_worker_app()
    else:
        try:
            project = Project.from_environ(os.environ)
        except MissingKeysError as error:
            sys.exit(f"langfuse stand-in: {error}")
        fake = FakeLangfuse(
            project=project,
            store=Store(arguments.store),
            modes=ModeSwitch(Mode(name=arguments.mode)),
            max_body_bytes=arguments.max_body_bytes,
            ingestion_delay_s=arguments.ingestion_delay_s,
        )
        app = create_app(fake)
    uvicorn.run(
        app,
        host=arguments.host,
        port=arguments.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


if __name__ == "__main__":
    main()
