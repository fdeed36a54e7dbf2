"""The Bedrock control-plane stand-in, through boto3: what botocore parses is what AWS sends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from llmops_kit.litellm_config import cost_map
from tests.fakes.bedrock_control import (
    PAGE_SIZE,
    BedrockAccount,
    running_bedrock_control,
    usable,
)


@pytest.fixture
def account() -> BedrockAccount:
    return BedrockAccount.from_price_map(cost_map(), "eu")


@pytest.fixture
def client(account: BedrockAccount) -> Iterator[Any]:
    with running_bedrock_control(account) as url:
        yield boto3.client(
            "bedrock",
            endpoint_url=url,
            region_name="eu-central-1",
            aws_access_key_id="AKIAFAKECONTROL",
            aws_secret_access_key="fake-secret",
        )


def test_botocore_pages_through_every_profile(client: Any, account: BedrockAccount) -> None:
    pages = list(
        client.get_paginator("list_inference_profiles").paginate(typeEquals="SYSTEM_DEFINED")
    )

    ids = [s["inferenceProfileId"] for page in pages for s in page["inferenceProfileSummaries"]]
    assert len(account.profiles) > PAGE_SIZE
    assert ids == sorted(account.profiles)
    assert "eu.anthropic.claude-opus-5-5" in ids


def test_application_profiles_are_none(client: Any) -> None:
    answer = client.list_inference_profiles(typeEquals="APPLICATION")

    assert answer["inferenceProfileSummaries"] == []


def test_availability_parses_with_every_field(client: Any, account: BedrockAccount) -> None:
    account.models["anthropic.claude-opus-5"] = usable(entitlementAvailability="NOT_AVAILABLE")

    answer = client.get_foundation_model_availability(modelId="anthropic.claude-opus-5")

    assert answer["authorizationStatus"] == "AUTHORIZED"
    assert answer["entitlementAvailability"] == "NOT_AVAILABLE"
    assert answer["agreementAvailability"] == {"status": "AVAILABLE"}


def test_unknown_model_is_resource_not_found(client: Any) -> None:
    with pytest.raises(ClientError) as refused:
        client.get_foundation_model_availability(modelId="anthropic.claude-opus-9")

    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_answer_that_breaks_the_service_model_is_never_sent(
    client: Any, account: BedrockAccount
) -> None:
    account.models["anthropic.claude-opus-5"] = usable(authorizationStatus="MAYBE")

    with pytest.raises(ClientError) as refused:
        client.get_foundation_model_availability(modelId="anthropic.claude-opus-5")

    assert refused.value.response["Error"]["Code"] == "InternalServerException"
    assert "authorizationStatus='MAYBE'" in refused.value.response["Error"]["Message"]


def test_unsigned_requests_are_refused(account: BedrockAccount) -> None:
    with running_bedrock_control(account) as url:
        response = httpx.get(f"{url}/inference-profiles")

    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"].startswith("UnrecognizedClientException")
