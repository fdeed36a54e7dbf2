"""Langfuse through the official SDK, against the Langfuse stand-in on loopback."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from llmops_kit.doctor import Status
from llmops_kit.langfuse_api import (
    MINIMUM_SERVER_VERSION,
    LangfuseKeysRejected,
    LangfuseReader,
    LangfuseUnreachable,
    parse_version,
    server_version_supported,
)
from llmops_kit.settings import REPO_ROOT
from tests.fakes.langfuse.harness import LangfuseStandIn, free_port, running_langfuse
from tests.unit.doctor.conftest import ContextFactory, run_check, set_line


@pytest.fixture(scope="module")
def stand_in() -> Iterator[LangfuseStandIn]:
    with running_langfuse() as running:
        yield running


@pytest.fixture
def native_env(env_path: Path, stand_in: LangfuseStandIn) -> Path:
    """`.env` of a native proxy that sends traces to the stand-in with its project keys."""
    set_line(env_path, "LANGFUSE_HOST", stand_in.url)
    set_line(env_path, "LANGFUSE_PUBLIC_KEY", stand_in.public_key)
    set_line(env_path, "LANGFUSE_SECRET_KEY", stand_in.secret_key)
    return env_path


def _export_generation(stand_in: LangfuseStandIn, session_id: str) -> str:
    """One generation span over OTLP/JSON, as the proxy's callback sends it; its trace id."""
    trace_id, now = secrets.token_hex(16), time.time_ns()

    def text(key: str, value: str) -> dict[str, object]:
        return {"key": key, "value": {"stringValue": value}}

    span = {
        "traceId": trace_id,
        "spanId": secrets.token_hex(8),
        "name": "claude-sonnet-4-6",
        "kind": 1,
        "startTimeUnixNano": str(now - 2_000_000_000),
        "endTimeUnixNano": str(now),
        "attributes": [
            text("langfuse.observation.type", "generation"),
            text("session.id", session_id),
            text("langfuse.observation.model.name", "us.anthropic.claude-sonnet-4-6"),
            text("langfuse.observation.usage_details", json.dumps({"input": 12, "output": 3})),
            text("langfuse.observation.cost_details", json.dumps({"total": 0.000081})),
        ],
    }
    body = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": [span]}]}]}
    response = httpx.post(
        stand_in.otlp_endpoint,
        json=body,
        headers={"Authorization": stand_in.basic_auth, "x-langfuse-ingestion-version": "4"},
    )
    response.raise_for_status()
    return trace_id


def test_health_reports_the_server_version(stand_in: LangfuseStandIn) -> None:
    with LangfuseReader(stand_in.url, stand_in.public_key, stand_in.secret_key) as client:
        health = client.health()
    assert health.status == "OK"
    assert parse_version(health.version) is not None


def test_the_project_keys_pass_the_auth_check(stand_in: LangfuseStandIn) -> None:
    with LangfuseReader(stand_in.url, stand_in.public_key, stand_in.secret_key) as client:
        assert client.auth_check()


def test_wrong_keys_are_rejected_as_such(stand_in: LangfuseStandIn) -> None:
    wrong = "sk-lf-00000000-0000-4000-8000-000000000000"
    with (
        LangfuseReader(stand_in.url, stand_in.public_key, wrong) as client,
        pytest.raises(LangfuseKeysRejected, match="HTTP 401"),
    ):
        client.auth_check()


def test_a_closed_port_is_unreachable() -> None:
    with (
        LangfuseReader(f"http://127.0.0.1:{free_port()}", "pk-lf-x", "sk-lf-x") as client,
        pytest.raises(LangfuseUnreachable, match="cannot reach Langfuse"),
    ):
        client.health()


def test_observations_are_found_by_session_and_by_trace(stand_in: LangfuseStandIn) -> None:
    session_id = f"doctor-{secrets.token_hex(4)}"
    trace_id = _export_generation(stand_in, session_id)
    with LangfuseReader(stand_in.url, stand_in.public_key, stand_in.secret_key) as client:
        (by_session,) = client.observations(session_id=session_id)
        (by_trace,) = client.observations(trace_id=trace_id)
    assert by_session == by_trace
    assert by_session.type == "GENERATION"
    assert by_session.model == "us.anthropic.claude-sonnet-4-6"
    assert by_session.usage["input"] == 12
    assert by_session.usage["output"] == 3
    assert by_session.session_id == session_id


def test_the_checks_pass_against_a_working_langfuse(
    native_env: Path, make_context: ContextFactory
) -> None:
    ctx = make_context(native=True)
    assert run_check(ctx, "langfuse.web").status is Status.OK
    assert run_check(ctx, "langfuse.auth").status is Status.OK


def test_wrong_keys_fail_masked_and_setting_the_project_keys_fixes_it(
    native_env: Path, stand_in: LangfuseStandIn, make_context: ContextFactory
) -> None:
    wrong = "sk-lf-11111111-1111-4111-8111-111111111111"
    set_line(native_env, "LANGFUSE_SECRET_KEY", wrong)
    finding = run_check(make_context(native=True), "langfuse.auth")
    assert finding.status is Status.FAIL
    assert "rejected the key pair pk-lf-" in finding.message
    assert wrong not in finding.message + finding.fix
    assert "LANGFUSE_SECRET_KEY=sk-lf-..." in finding.fix
    set_line(native_env, "LANGFUSE_SECRET_KEY", stand_in.secret_key)
    assert run_check(make_context(native=True), "langfuse.auth").status is Status.OK


def test_langfuse_down_fails_naming_the_url(native_env: Path, make_context: ContextFactory) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    set_line(native_env, "LANGFUSE_HOST", url)
    finding = run_check(make_context(native=True), "langfuse.web")
    assert finding.status is Status.FAIL
    assert finding.message == f"cannot reach Langfuse at {url}: ConnectError"
    assert "LANGFUSE_HOST=" in finding.fix


@pytest.mark.parametrize(
    ("version", "supported"),
    [("4.59.0", True), ("v4.75.1", True), ("4.56.0", False), ("3.172.1", False), ("dev", None)],
)
def test_server_versions_are_compared_with_the_sdk_minimum(
    version: str, supported: bool | None
) -> None:
    assert server_version_supported(version) is supported


def test_the_pinned_langfuse_images_meet_the_sdk_minimum_server_version() -> None:
    compose = yaml.safe_load((REPO_ROOT / "compose" / "langfuse.yml").read_text())
    images = [
        service["image"]
        for service in compose["services"].values()
        if re.search(r"langfuse/langfuse(-worker)?:", service.get("image", ""))
    ]
    assert len(images) == 2
    for image in images:
        pinned = parse_version(image.rsplit(":", 1)[1])
        assert pinned is not None and pinned >= MINIMUM_SERVER_VERSION, (
            f"{image}: the pinned langfuse SDK 5 needs Langfuse v4.59.0 or later"
        )
