"""access.master_key_clients: recent traces show whether a client uses the master key."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmops_kit.doctor import Status
from tests.fakes.langfuse.harness import LangfuseStandIn, running_langfuse
from tests.unit.doctor.conftest import ContextFactory, run_check, set_line

MASTER_KEY_ALIAS = "master-key"  # callbacks/auth.py, as the callback puts it on every trace


@pytest.fixture
def stand_in() -> Iterator[LangfuseStandIn]:
    with running_langfuse() as running:
        yield running


@pytest.fixture
def native_env(env_path: Path, stand_in: LangfuseStandIn) -> Path:
    set_line(env_path, "LANGFUSE_HOST", stand_in.url)
    set_line(env_path, "LANGFUSE_PUBLIC_KEY", stand_in.public_key)
    set_line(env_path, "LANGFUSE_SECRET_KEY", stand_in.secret_key)
    return env_path


def _export_request(
    stand_in: LangfuseStandIn, *, key_alias: str, user_agent: str, session_id: str
) -> None:
    """One request's generation span with the trace metadata the proxy's callback sends."""
    now = time.time_ns()

    def text(key: str, value: str) -> dict[str, object]:
        return {"key": key, "value": {"stringValue": value}}

    span = {
        "traceId": secrets.token_hex(16),
        "spanId": secrets.token_hex(8),
        "name": "claude-sonnet-4-6",
        "kind": 1,
        "startTimeUnixNano": str(now - 1_000_000_000),
        "endTimeUnixNano": str(now),
        "attributes": [
            text("langfuse.observation.type", "generation"),
            text("session.id", session_id),
            text("user.id", key_alias),
            text("langfuse.trace.metadata.key_alias", key_alias),
            text("langfuse.trace.metadata.user_agent", user_agent),
        ],
    }
    body = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": [span]}]}]}
    response = httpx.post(
        stand_in.otlp_endpoint,
        json=body,
        headers={"Authorization": stand_in.basic_auth, "x-langfuse-ingestion-version": "4"},
    )
    response.raise_for_status()


def test_a_client_using_the_master_key_is_a_warning_naming_the_client(
    native_env: Path, stand_in: LangfuseStandIn, make_context: ContextFactory
) -> None:
    _export_request(
        stand_in, key_alias=MASTER_KEY_ALIAS, user_agent="claude-cli/2.1.328", session_id="s1"
    )
    _export_request(stand_in, key_alias="alice-laptop", user_agent="Cline/3.1", session_id="s2")

    finding = run_check(make_context(native=True), "access.master_key_clients")

    assert finding.status is Status.WARN
    assert "1 recent request(s) used the master key: claude-cli (1)" in finding.message
    assert "keys file" in finding.fix


def test_developer_keys_and_the_kit_s_own_check_are_fine(
    native_env: Path, stand_in: LangfuseStandIn, make_context: ContextFactory
) -> None:
    _export_request(stand_in, key_alias="alice-laptop", user_agent="Cline/3.1", session_id="s2")
    _export_request(
        stand_in,
        key_alias=MASTER_KEY_ALIAS,
        user_agent="python-httpx/0.28",
        session_id="llmops-test-0f6c",
    )

    finding = run_check(make_context(native=True), "access.master_key_clients")

    assert finding.status is Status.OK, finding.message


def test_the_alias_the_check_looks_for_is_the_one_auth_gives_the_master_key() -> None:
    from llmops_kit.doctor.access import master_key_alias

    assert master_key_alias() == MASTER_KEY_ALIAS
