"""Local models (an OpenAI-compatible server) in the same view as the Claude routes.

The real proxy, with routes rendered from LLMOPS_LOCAL_* (callbacks/local_routes.py), in front
of the local-model stand-in (tests/fakes/openai_compat) and the Langfuse stand-in; the Bedrock
stand-in serves the Claude routes the config always has. A local model is traced like the
others: user, session, usage and a cost of 0, or of the configured price.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.bedrock.harness import running_bedrock
from tests.fakes.langfuse.harness import LangfuseStandIn, running_langfuse
from tests.fakes.openai_compat.harness import RunningOpenAICompat, running_openai_compat
from tests.integration.callback_stack import USER, CallbackStack, open_callback_stack

pytestmark = pytest.mark.integration

MODELS = ("llama3.2", "qwen2.5-coder:7b")
LOCAL_KEY = "local-server-key-0123456789"
INPUT_USD_PER_MTOK = 0.5
OUTPUT_USD_PER_MTOK = 2.0


def local_environment(local: RunningOpenAICompat, **extra: str) -> dict[str, str]:
    return {
        "LLMOPS_LOCAL_API_BASE": local.api_base,
        "LLMOPS_LOCAL_MODELS": ",".join(MODELS),
        **extra,
    }


@pytest.fixture(scope="module")
def langfuse() -> Iterator[LangfuseStandIn]:
    with running_langfuse() as running:
        yield running


@pytest.fixture(scope="module")
def local() -> Iterator[RunningOpenAICompat]:
    with running_openai_compat(MODELS, api_key=LOCAL_KEY) as running:
        yield running


@pytest.fixture(scope="module")
def priced(
    tmp_path_factory: pytest.TempPathFactory, langfuse: LangfuseStandIn, local: RunningOpenAICompat
) -> Iterator[CallbackStack]:
    """The proxy with local routes that have a key and a price."""
    environment = local_environment(
        local,
        LLMOPS_LOCAL_API_KEY=LOCAL_KEY,
        LLMOPS_LOCAL_INPUT_USD_PER_MTOK=str(INPUT_USD_PER_MTOK),
        LLMOPS_LOCAL_OUTPUT_USD_PER_MTOK=str(OUTPUT_USD_PER_MTOK),
    )
    work_dir = tmp_path_factory.mktemp("local-priced")
    with (
        running_bedrock() as bedrock,
        open_callback_stack(work_dir, bedrock, langfuse, environment) as stack,
    ):
        yield stack


def test_a_local_model_answers_streaming_and_is_traced_at_the_configured_price(
    priced: CallbackStack, local: RunningOpenAICompat
) -> None:
    messages = [{"role": "user", "content": "Explain this function please"}]

    call_id, answer = priced.chat("local-qwen2.5-coder:7b", messages, stream=True)
    root, generation = priced.trace(call_id)
    call = local.calls()[-1]

    assert answer == "Hello from qwen2.5-coder:7b. You said: Explain this function please"
    assert call["body"]["model"] == "qwen2.5-coder:7b"
    assert call["headers"]["authorization"] == f"Bearer {LOCAL_KEY}"
    usage = call["usage"]
    assert root["name"] == "cline / local-qwen2.5-coder:7b"
    assert root["userId"] == USER
    assert root["sessionId"].startswith("auto-")
    assert generation["model"] == "qwen2.5-coder:7b"
    assert generation["usageDetails"] == {
        "input": usage["prompt_tokens"],
        "output": usage["completion_tokens"],
        "total": usage["total_tokens"],
    }
    assert generation["costDetails"]["total"] == pytest.approx(
        (
            usage["prompt_tokens"] * INPUT_USD_PER_MTOK
            + usage["completion_tokens"] * OUTPUT_USD_PER_MTOK
        )
        / 1e6,
        abs=1e-12,
    )
    assert generation["completionStartTime"] is not None


def test_the_proxy_asks_the_local_server_for_stream_usage_itself(
    priced: CallbackStack, local: RunningOpenAICompat
) -> None:
    # Like Open WebUI without its "usage" switch: no stream_options from the client.
    response = httpx.post(
        f"{priced.proxy.openai_url}/chat/completions",
        headers={"Authorization": "Bearer sk-test-callback-alice-0123456789abcdef"},
        json={
            "model": "local-llama3.2",
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
        timeout=60,
    )
    assert response.status_code == 200, response.text

    _, generation = priced.trace(response.headers["x-litellm-call-id"])

    assert local.calls()[-1]["body"]["stream_options"] == {"include_usage": True}
    assert '"usage"' not in response.text
    assert generation["usageDetails"]["input"] == local.calls()[-1]["usage"]["prompt_tokens"]


def test_local_models_cost_nothing_by_default_and_claude_routes_stay(
    tmp_path: Path, langfuse: LangfuseStandIn
) -> None:
    with (
        running_openai_compat(MODELS) as free_local,
        running_bedrock() as bedrock,
        open_callback_stack(tmp_path, bedrock, langfuse, local_environment(free_local)) as stack,
    ):
        listed = [m.id for m in stack.client().models.list().data]
        call_id, answer = stack.chat("local-llama3.2", [{"role": "user", "content": "hello there"}])
        _, generation = stack.trace(call_id)

    assert {"local-llama3.2", "local-qwen2.5-coder:7b", "claude-sonnet-4-6"} <= set(listed)
    assert answer == "Hello from llama3.2. You said: hello there"
    assert generation["usageDetails"]["input"] == free_local.calls()[-1]["usage"]["prompt_tokens"]
    # Stated as zeros: Langfuse would otherwise price the generation itself.
    assert generation["costDetails"] == {"input": 0.0, "output": 0.0, "total": 0.0}
