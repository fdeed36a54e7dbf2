"""Which Claude models this AWS account can call, from the Bedrock control plane (boto3 `bedrock`).

Two read-only calls that cost nothing: ListInferenceProfiles (the cross-region profiles
the region offers, e.g. `us.anthropic.claude-opus-5-5`) and GetFoundationModelAvailability
(whether the account is authorized and entitled to the model, and has accepted its
agreement). The endpoint is AWS_ENDPOINT_URL_BEDROCK when set (a VPC endpoint, or the test
stand-in), else boto3's default for AWS_REGION.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .bedrock_probe import credential_source, session_for
from .errors import BedrockError

ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_BEDROCK"
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20
T = TypeVar("T")


class ModelNotFound(BedrockError):
    """GetFoundationModelAvailability does not know the model id (ResourceNotFoundException)."""


@dataclass(frozen=True)
class Availability:
    """What the account may do with one model; `reason` says why not when it may not."""

    profile_id: str
    usable: bool
    reason: str = ""


class BedrockModels:
    """The control-plane client: one ListInferenceProfiles per run, one availability call per
    model asked about."""

    def __init__(self, settings: Mapping[str, str]) -> None:
        session = session_for(settings)
        credential_source(session)  # NoCredentials before any call, with the usual fix
        endpoint = settings.get(ENDPOINT_VARIABLE) or os.environ.get(ENDPOINT_VARIABLE)
        self._client = session.client(
            "bedrock",
            endpoint_url=endpoint or None,
            config=Config(
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                read_timeout=READ_TIMEOUT_SECONDS,
                retries={"total_max_attempts": 2},
            ),
        )
        self._profiles: dict[str, str] | None = None

    def profiles(self) -> dict[str, str]:
        """System-defined inference profiles in the region: id -> status (ACTIVE...)."""
        if self._profiles is None:
            found: dict[str, str] = {}
            paginator = self._client.get_paginator("list_inference_profiles")
            pages = paginator.paginate(typeEquals="SYSTEM_DEFINED")
            for page in self._call(lambda: list(pages)):
                for summary in page.get("inferenceProfileSummaries", []):
                    found[summary["inferenceProfileId"]] = summary.get("status", "")
            self._profiles = found
        return self._profiles

    def availability(self, profile_id: str, base_id: str) -> Availability:
        """Whether requests to `profile_id` (serving `base_id`) would be admitted."""
        status = self.profiles().get(profile_id)
        if status is None:
            return Availability(profile_id, False, "no such inference profile in this region")
        if status != "ACTIVE":
            return Availability(profile_id, False, f"inference profile is {status}")
        try:
            answer = self._call(
                lambda: self._client.get_foundation_model_availability(modelId=base_id)
            )
        except ModelNotFound:
            return Availability(profile_id, False, f"the region does not know {base_id}")
        problems = [
            f"{name} {value}"
            for name, value, wanted in (
                ("authorization", answer.get("authorizationStatus"), "AUTHORIZED"),
                ("entitlement", answer.get("entitlementAvailability"), "AVAILABLE"),
                ("region", answer.get("regionAvailability"), "AVAILABLE"),
                (
                    "agreement",
                    (answer.get("agreementAvailability") or {}).get("status"),
                    "AVAILABLE",
                ),
            )
            if value != wanted
        ]
        return Availability(profile_id, not problems, ", ".join(problems))

    @staticmethod
    def _call(function: Callable[[], T]) -> T:
        try:
            return function()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message", "")
            if code == "ResourceNotFoundException":
                raise ModelNotFound(message[:200]) from None
            raise BedrockError(
                f"the Bedrock control plane refused the call ({code}: {message[:200]})",
                fix="Allow bedrock:ListInferenceProfiles and "
                "bedrock:GetFoundationModelAvailability to these credentials.",
            ) from None
        except BotoCoreError as error:
            raise BedrockError(
                f"the Bedrock control plane did not answer ({type(error).__name__})",
                fix=f"Check network access to Bedrock in AWS_REGION, or {ENDPOINT_VARIABLE}.",
            ) from None
