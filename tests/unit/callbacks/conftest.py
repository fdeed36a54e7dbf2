"""Fixtures for the callback's unit tests: captured LiteLLM payloads, a spool, a fake clock."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from callbacks import mapping
from callbacks.spool import Spool

from .doubles import FakeClock

DATA = Path(__file__).parent / "data"

# LiteLLM fetches its price map from GitHub at import unless told to use the pinned copy;
# tests reach no network beyond loopback (subprocesses inherit this too).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def captured() -> Callable[[str], dict[str, Any]]:
    """Hook arguments captured from the real proxy (LiteLLM 1.106.2 + the Bedrock stand-in)."""

    def load(name: str) -> dict[str, Any]:
        return json.loads((DATA / f"{name}.json").read_text())

    return load


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_spool(tmp_path: Path, clock: FakeClock) -> Callable[..., Spool]:
    """Spools on one directory, as several proxy worker processes would open it."""

    def make(
        max_bytes: int = 10**9, settle_seconds: float = 60.0, deferred_sync: bool = False
    ) -> Spool:
        return Spool(
            tmp_path / "spool",
            max_bytes=max_bytes,
            shrink=mapping.without_bodies,
            settle_seconds=settle_seconds,
            deferred_sync=deferred_sync,
            clock=clock,
        )

    return make


@pytest.fixture
def spool(make_spool: Callable[..., Spool]) -> Spool:
    return make_spool()
