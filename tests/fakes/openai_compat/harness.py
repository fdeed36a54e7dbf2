"""Run the local-model stand-in on a free loopback port for a test.

with running_openai_compat(["llama3.2"]) as local:
    ...  # LLMOPS_LOCAL_API_BASE=local.api_base
    assert local.calls()[-1]["usage"]["prompt_tokens"] == ...
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.fakes.openai_compat.server import OpenAICompatServer


@dataclass(frozen=True)
class RunningOpenAICompat:
    api_base: str
    server: OpenAICompatServer

    def calls(self) -> list[dict[str, Any]]:
        """Every request received, oldest first."""
        return self.server.calls()


@contextmanager
def running_openai_compat(
    models: Sequence[str], api_key: str | None = None
) -> Iterator[RunningOpenAICompat]:
    server = OpenAICompatServer(models, api_key)
    thread = threading.Thread(target=server.serve_forever, name="openai-compat", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield RunningOpenAICompat(f"http://{host}:{port}/v1", server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
