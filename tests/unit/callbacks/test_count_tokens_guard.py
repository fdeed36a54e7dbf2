"""count_tokens stays on the configured endpoint: no bedrock-mantle unless configured, no
region other than the deployment's."""

from __future__ import annotations

import asyncio

import pytest
from litellm.llms.bedrock.common_utils import BedrockError
from litellm.proxy.common_utils.token_count_settings import TokenCountModel, TokenCountSettings

from callbacks.count_tokens_guard import (
    MANTLE_BASE_VARIABLE,
    ConfiguredMantleOnly,
    in_configured_region,
)
from tests.integration.egress_recorder import recording_egress

REQUEST = {"model": "anthropic.claude-sonnet-4-6", "messages": [{"role": "user", "content": "hi"}]}


def count_with_mantle() -> None:
    asyncio.run(
        ConfiguredMantleOnly().handle_count_tokens_request(
            request_data=REQUEST,
            litellm_params={"aws_region_name": "us-west-2"},
            resolved_model="anthropic.claude-sonnet-4-6",
        )
    )


def test_the_mantle_step_fails_at_once_without_a_configured_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MANTLE_BASE_VARIABLE, raising=False)
    with pytest.raises(BedrockError) as raised:
        count_with_mantle()
    assert raised.value.status_code == 404
    assert MANTLE_BASE_VARIABLE in raised.value.message


def test_the_mantle_step_goes_to_the_endpoint_the_user_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    with recording_egress() as endpoint:  # answers 403 to every request it records
        monkeypatch.setenv(MANTLE_BASE_VARIABLE, endpoint.url)
        with pytest.raises(BedrockError):
            count_with_mantle()
        assert endpoint.destinations() == ["/anthropic/v1/messages/count_tokens"]


def test_a_count_model_keeps_the_deployments_region() -> None:
    def litellm_settings(*args: object, **kwargs: object) -> TokenCountSettings:
        count_model = TokenCountModel(model="anthropic.claude-opus-4-8", region="us-east-1")
        return TokenCountSettings(framing=None, count_model=count_model)

    settings = in_configured_region(litellm_settings)()

    assert settings.count_model == TokenCountModel(model="anthropic.claude-opus-4-8", region=None)
