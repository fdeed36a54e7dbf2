"""Who may call the proxy: the master key, keys from the keys file, nobody else (401).

The proxy runs without a database; callbacks/auth.py answers for it. Uses the package's
shared proxy (conftest.proxy_stack), whose keys file holds DEVELOPER.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.integration.conftest import DEVELOPER, ProxyStack

pytestmark = pytest.mark.integration

HELLO = {"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "Say hello."}]}


def _post_chat(stack: ProxyStack, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{stack.proxy.url}/v1/chat/completions", json=HELLO, headers=headers, timeout=30
    )


def test_request_without_a_key_is_refused_with_401_saying_how_to_send_one(
    stack: ProxyStack,
) -> None:
    response = _post_chat(stack, {})

    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]["message"]
    assert stack.bedrock.calls() == []


def test_wrong_key_is_refused_with_401_without_echoing_the_key(stack: ProxyStack) -> None:
    wrong_key = "sk-not-a-key-of-this-proxy-0123456789"

    response = _post_chat(stack, {"Authorization": f"Bearer {wrong_key}"})

    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert "Invalid API key sk-…6789" in message
    assert wrong_key not in response.text
    assert stack.bedrock.calls() == []


def test_master_key_is_accepted(stack: ProxyStack) -> None:
    response = _post_chat(stack, {"Authorization": f"Bearer {stack.proxy.master_key}"})

    assert response.status_code == 200


def test_model_info_refuses_a_wrong_x_litellm_api_key(stack: ProxyStack) -> None:
    response = httpx.get(
        f"{stack.proxy.url}/v1/model/info",
        headers={"x-litellm-api-key": "sk-not-a-key-of-this-proxy-0123456789"},
        timeout=30,
    )

    assert response.status_code == 401


def test_developer_key_reads_model_info_as_cline_asks_for_it(stack: ProxyStack) -> None:
    response = httpx.get(
        f"{stack.proxy.url}/v1/model/info",
        headers={"x-litellm-api-key": DEVELOPER.key},
        timeout=30,
    )

    assert response.status_code == 200
    assert "claude-sonnet-4-6" in {entry["model_name"] for entry in response.json()["data"]}


def test_developer_key_is_accepted_through_the_openai_sdk(stack: ProxyStack) -> None:
    completion = stack.openai(DEVELOPER.key).chat.completions.create(**HELLO)

    assert completion.choices[0].message.content.endswith("You said: Say hello.")


def test_developer_key_puts_its_user_team_and_alias_in_the_callbacks_metadata(
    stack: ProxyStack,
) -> None:
    raw = stack.openai(DEVELOPER.key).chat.completions.with_raw_response.create(**HELLO)

    metadata = stack.wait_for_record(raw.headers["x-litellm-call-id"])["metadata"]
    assert (
        metadata["user_api_key_user_id"],
        metadata["user_api_key_team_id"],
        metadata["user_api_key_alias"],
    ) == (DEVELOPER.user, DEVELOPER.team, DEVELOPER.alias)


def test_developer_key_never_reaches_the_callbacks_in_full(stack: ProxyStack) -> None:
    raw = stack.openai(DEVELOPER.key).chat.completions.with_raw_response.create(**HELLO)

    record = stack.wait_for_record(raw.headers["x-litellm-call-id"])
    assert DEVELOPER.key not in json.dumps(record)


def test_openai_sdk_sees_a_wrong_key_as_an_authentication_error(stack: ProxyStack) -> None:
    with pytest.raises(openai.AuthenticationError):
        stack.openai("sk-not-a-key-of-this-proxy-0123456789").chat.completions.create(**HELLO)
