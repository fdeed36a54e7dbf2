"""Through the real proxy: a request the key's limits refused, as Langfuse shows it.

LiteLLM hands the failure hook no identity for a request custom_auth refused; the trace must
still say who was stopped, why, and that no upstream call was made.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.bedrock.harness import running_bedrock
from tests.fakes.langfuse.harness import running_langfuse
from tests.integration.callback_stack import (
    DELIVERY_TIMEOUT_S,
    USER,
    USER_KEY,
    CallbackStack,
    open_callback_stack,
)
from tests.integration.proxy_harness import write_keys_file

pytestmark = pytest.mark.integration

SPENT = "spent@example.com"
SPENT_KEY = "sk-test-refused-spent-0123456789abcdef"
REFUSAL_WAIT_S = 30.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbackStack]:
    work_dir = tmp_path_factory.mktemp("callback-refusals")
    env = {"LLMOPS_LEDGER_DIR": str(work_dir / "ledger")}
    with (
        running_bedrock() as bedrock,
        running_langfuse() as langfuse,
        open_callback_stack(work_dir, bedrock, langfuse, env_overrides=env) as opened,
    ):
        # The running proxy picks up the keys file's change within a second.
        write_keys_file(
            work_dir / "keys.yml",
            [
                {"key": USER_KEY, "user": USER},
                {
                    "key": SPENT_KEY,
                    "user": SPENT,
                    "team": "platform",
                    "alias": "laptop",
                    "budget_usd": 0.000001,
                },
            ],
        )
        yield opened


def _chat(stack: CallbackStack) -> httpx.Response:
    return httpx.post(
        f"{stack.proxy.url}/v1/chat/completions",
        json={"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {SPENT_KEY}"},
        timeout=60,
    )


def _refused(stack: CallbackStack) -> httpx.Response:
    """Send until the budget refuses: the first request spends it once it is settled."""
    deadline = time.monotonic() + REFUSAL_WAIT_S
    while True:
        response = _chat(stack)
        if response.status_code == 429 or time.monotonic() > deadline:
            assert response.status_code == 429, (response.text, stack.proxy.log_tail())
            return response
        time.sleep(0.2)


def test_a_budget_refusal_is_a_warning_trace_naming_the_key_and_the_reason(
    stack: CallbackStack,
) -> None:
    refused = _refused(stack)
    assert refused.json()["error"]["type"] == "budget_exceeded"
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        observations = stack.langfuse.observations(user_id=SPENT)
        warnings = [o for o in observations if o["level"] == "WARNING"]
        if warnings or time.monotonic() > deadline:
            assert warnings, (observations, stack.health(), stack.proxy.log_tail())
            break
        time.sleep(0.2)
    [root] = warnings
    assert root["type"] == "SPAN"
    assert root["parentObservationId"] is None
    assert root["statusMessage"].startswith("budget_exceeded (429): Budget exceeded for")
    assert root["metadata"]["error_type"] == "budget_exceeded"
    trace = stack.langfuse.trace(root["traceId"])
    assert trace is not None
    assert trace["userId"] == SPENT
    assert "refused" in trace["tags"]
    assert root["metadata"]["team"] == "platform"
    assert root["metadata"]["key_alias"] == "laptop"
    stack.wait_until_delivered()
    in_trace = stack.langfuse.observations(trace_id=root["traceId"])
    assert [o["type"] for o in in_trace] == ["SPAN"], in_trace  # no upstream generation
