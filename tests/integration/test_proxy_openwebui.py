"""Open WebUI as an OpenAI connection of the kit, through the real proxy and the callback.

Open WebUI's own request shapes (openwebui_requests.py) with the Bedrock and Langfuse
stand-ins behind. Its user and chat headers name the trace's user and session only from the
key marked `forwards_users: true`; from a developer's key they change nothing. Open WebUI
asks for no usage in a stream unless a per-model switch is on: the trace has it anyway.
(The real Open WebUI is not run: open-webui 0.12.4 pins 91 packages, torch among them.)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.bedrock.harness import running_bedrock
from tests.fakes.langfuse.harness import running_langfuse
from tests.integration import openwebui_requests as openwebui
from tests.integration.callback_stack import (
    CallbackStack,
    callback_environment,
    price_map,
    trace_id,
)
from tests.integration.proxy_harness import start_proxy, write_keys_file

pytestmark = pytest.mark.integration

MODEL = "claude-sonnet-4-6"
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-6"
FRONT_END_KEY = "sk-test-open-webui-front-end-0123456789"
FRONT_END_USER = "open-webui@example.com"
DEVELOPER_KEY = "sk-test-developer-carol-0123456789abcdef"
DEVELOPER_USER = "carol@example.com"
BOB = {"name": "Bob Müller", "user_id": str(uuid.uuid4()), "email": "bob@example.com"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbackStack]:
    work_dir = tmp_path_factory.mktemp("open-webui")
    keys = write_keys_file(
        work_dir / "keys.yml",
        [
            {
                "key": FRONT_END_KEY,
                "user": FRONT_END_USER,
                "alias": "open-webui",
                "forwards_users": True,
            },
            {"key": DEVELOPER_KEY, "user": DEVELOPER_USER},
        ],
    )
    with running_bedrock() as bedrock, running_langfuse() as langfuse:
        environment = callback_environment(langfuse, LLMOPS_KEYS_FILE=str(keys))
        with start_proxy(bedrock, work_dir, env_overrides=environment) as proxy:
            yield CallbackStack(bedrock, langfuse, proxy, work_dir / "spool")


def post(
    stack: CallbackStack, api_key: str, body: dict[str, Any], chat_id: str | None
) -> tuple[str, list[dict[str, Any]] | dict[str, Any]]:
    """One call as Open WebUI sends it: LiteLLM's call id, and the SSE events or the JSON."""
    response = httpx.post(
        f"{stack.proxy.openai_url}/chat/completions",
        headers=openwebui.headers(api_key, chat_id=chat_id, **BOB),
        content=json.dumps(body),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    if not body["stream"]:
        return response.headers["x-litellm-call-id"], response.json()
    events = [
        json.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    return response.headers["x-litellm-call-id"], events


def test_a_chat_through_the_trusted_key_is_the_open_webui_users_in_its_chat(
    stack: CallbackStack,
) -> None:
    chat_id = str(uuid.uuid4())
    question = [{"role": "user", "content": "What is a LiteLLM proxy?"}]

    call_id, events = post(stack, FRONT_END_KEY, openwebui.chat_body(MODEL, question), chat_id)
    answer = "".join(c["choices"][0]["delta"].get("content") or "" for c in events if c["choices"])
    root, generation = stack.trace(call_id)
    usage = stack.bedrock.calls()[-1]["usage"]
    title_id, _ = post(stack, FRONT_END_KEY, openwebui.title_body(MODEL, answer), chat_id)
    title_root, _ = stack.trace(title_id)

    assert answer.endswith("You said: What is a LiteLLM proxy?")
    for observation in (root, generation, title_root):
        assert observation["userId"] == BOB["email"]
        assert observation["sessionId"] == chat_id
    assert root["name"] == f"open-webui / {MODEL}"
    assert root["tags"] == ["open-webui", MODEL, "ci"]
    assert root["metadata"]["key_alias"] == "open-webui"
    # The stream carried no usage for Open WebUI (it did not ask); the trace has Bedrock's.
    assert all(not event.get("usage") for event in events)
    assert generation["usageDetails"] == {
        "input": usage["inputTokens"],
        "output": usage["outputTokens"],
        "total": usage["totalTokens"],
    }
    prices = price_map()[BEDROCK_MODEL]
    assert generation["costDetails"]["total"] == pytest.approx(
        usage["inputTokens"] * prices["input_cost_per_token"]
        + usage["outputTokens"] * prices["output_cost_per_token"],
        abs=2e-12,
    )
    assert generation["completionStartTime"] is not None


def test_a_developer_key_sending_the_same_headers_stays_the_developers(
    stack: CallbackStack,
) -> None:
    chat_id = str(uuid.uuid4())
    body = openwebui.chat_body(MODEL, [{"role": "user", "content": "Charge this to Bob."}])
    # Also try to claim the flag through the request's metadata: LiteLLM drops it.
    body["metadata"] = {"user_api_key_metadata": {"forwards_users": True}}

    call_id, _ = post(stack, DEVELOPER_KEY, body, chat_id)
    root, generation = stack.trace(call_id)

    for observation in (root, generation):
        assert observation["traceId"] == trace_id(call_id)
        assert observation["userId"] == DEVELOPER_USER
        assert observation["sessionId"].startswith("auto-")
    assert root["name"] == f"python / {MODEL}"
    assert generation["usageDetails"]["input"] > 0


def test_the_trusted_key_without_forwarded_headers_is_its_own_user(stack: CallbackStack) -> None:
    client_headers = {"Authorization": f"Bearer {FRONT_END_KEY}"}
    response = httpx.post(
        f"{stack.proxy.openai_url}/chat/completions",
        headers=client_headers,
        json=openwebui.title_body(MODEL, "hello"),
        timeout=60,
    )
    assert response.status_code == 200, response.text

    root, _ = stack.trace(response.headers["x-litellm-call-id"])

    assert root["userId"] == FRONT_END_USER
    assert not root["name"].startswith("open-webui")


def test_open_webui_lists_the_model_groups_with_its_key(stack: CallbackStack) -> None:
    # Open WebUI's get_all_models: GET <connection URL>/models with the user's headers.
    response = httpx.get(
        f"{stack.proxy.openai_url}/models",
        headers=openwebui.headers(FRONT_END_KEY, chat_id=None, **BOB),
        timeout=30,
    )

    assert response.status_code == 200, response.text
    assert MODEL in [model["id"] for model in response.json()["data"]]


def test_a_chats_turns_are_logged_once_despite_its_tasks_in_between(stack: CallbackStack) -> None:
    chat_id = str(uuid.uuid4())
    history = [{"role": "user", "content": "Name a prime number."}]
    first_id, events = post(stack, FRONT_END_KEY, openwebui.chat_body(MODEL, history), chat_id)
    answer = "".join(c["choices"][0]["delta"].get("content") or "" for c in events if c["choices"])
    # Open WebUI's title task (and its tags and follow-ups) run in the chat between turns.
    post(stack, FRONT_END_KEY, openwebui.title_body(MODEL, answer), chat_id)
    history += [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "And another one?"},
    ]

    second_id, _ = post(stack, FRONT_END_KEY, openwebui.chat_body(MODEL, history), chat_id)

    assert json.loads(stack.trace(first_id)[1]["input"]) == history[:1]
    assert json.loads(stack.trace(second_id)[1]["input"]) == history[1:]
