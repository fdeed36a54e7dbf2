"""The Bedrock control plane (boto3 `bedrock`) for tests: the two calls `models` and doctor use.

    with running_bedrock_control(BedrockAccount.from_price_map(prices, "us")) as url:
        os.environ["AWS_ENDPOINT_URL_BEDROCK"] = url

moto 5.2.1's server does not implement ListInferenceProfiles or
GetFoundationModelAvailability, so they are answered here over rest-json exactly where
botocore's `bedrock` service model puts them: `GET /inference-profiles` (query `type`,
`maxResults`, `nextToken`; pages of PAGE_SIZE) and `GET /foundation-model-availability/{id}`.
Every answer is checked against the model's output shape (types and enums) before it is
sent, and one that breaks it becomes a 500, so the fake cannot drift from what botocore
parses; unsigned requests get AWS's 403.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
from botocore.validate import ParamValidator

from tests.fakes.loopback import serving

ACCOUNT = "123456789012"
REGION = "us-east-1"
PAGE_SIZE = 10
CREATED = "2026-01-01T00:00:00Z"
SERVICE_MODEL = botocore.session.get_session().get_service_model("bedrock")


@dataclass
class BedrockAccount:
    """What the account sees: the region's profiles (id -> status) and, per base model id,
    its availability fields. A base id absent from `models` answers ResourceNotFound."""

    profiles: dict[str, str] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    @classmethod
    def from_price_map(
        cls, prices: Mapping[str, Any], prefix: str, *, without: tuple[str, ...] = ()
    ) -> BedrockAccount:
        """Every `<prefix>.anthropic.claude-*` profile of the cost map, all usable, except the
        base ids in `without` (absent from the region)."""
        account = cls()
        for key in prices:
            if key.startswith(f"{prefix}.anthropic.claude-") and "/" not in key:
                base = key.split(".", 1)[1]
                if base in without:
                    continue
                account.profiles[key] = "ACTIVE"
                account.models[base] = usable()
        return account


def usable(**change: Any) -> dict[str, Any]:
    """A GetFoundationModelAvailability answer for a model the account may call."""
    answer = {
        "agreementAvailability": {"status": "AVAILABLE"},
        "authorizationStatus": "AUTHORIZED",
        "entitlementAvailability": "AVAILABLE",
        "regionAvailability": "AVAILABLE",
    }
    answer.update(change)
    return answer


class ModelBreach(AssertionError):
    """An answer the fake was about to send does not fit botocore's `bedrock` model."""


def _enum_breaches(value: Any, shape: Any, where: str) -> list[str]:
    """ParamValidator checks types, not enums: the values botocore's model allows."""
    if shape.type_name == "structure" and isinstance(value, dict):
        return [
            breach
            for name, member in shape.members.items()
            if name in value
            for breach in _enum_breaches(value[name], member, f"{where}.{name}")
        ]
    if shape.type_name == "list" and isinstance(value, list):
        return [b for i, v in enumerate(value) for b in _enum_breaches(v, shape.member, where)]
    if shape.type_name == "string" and shape.enum and value not in shape.enum:
        return [f"{where}={value!r} is not one of {shape.enum}"]
    return []


def _checked(operation: str, body: dict[str, Any]) -> bytes:
    shape = SERVICE_MODEL.operation_model(operation).output_shape
    report = ParamValidator().validate(body, shape)
    breaches = _enum_breaches(body, shape, operation)
    if report.has_errors() or breaches:
        raise ModelBreach(f"{report.generate_report()} {'; '.join(breaches)}".strip())
    return json.dumps(body).encode()


def _profile_summary(profile_id: str, status: str) -> dict[str, Any]:
    base = profile_id.split(".", 1)[1]
    return {
        "inferenceProfileName": f"{profile_id.split('.', 1)[0].upper()} {base}",
        "description": f"Routes requests to {base}.",
        "createdAt": CREATED,
        "updatedAt": CREATED,
        "inferenceProfileArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{profile_id}",
        "models": [{"modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{base}"}],
        "inferenceProfileId": profile_id,
        "status": status,
        "type": "SYSTEM_DEFINED",
    }


@contextmanager
def running_bedrock_control(account: BedrockAccount) -> Iterator[str]:
    """The control plane on a free loopback port, in a thread; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                self._answer()
            except ModelBreach as breach:  # a test set up an answer AWS could not send
                self._error(500, "InternalServerException", f"fake: {breach}")

        def _answer(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
                return self._error(403, "UnrecognizedClientException", "Missing Authentication")
            if url.path == "/inference-profiles":
                account.calls.append("ListInferenceProfiles")
                return self._list_profiles(query)
            prefix = "/foundation-model-availability/"
            if url.path.startswith(prefix):
                model_id = unquote(url.path[len(prefix) :])
                account.calls.append(f"GetFoundationModelAvailability {model_id}")
                answer = account.models.get(model_id)
                if answer is None:
                    return self._error(
                        404, "ResourceNotFoundException", f"Model {model_id} not found"
                    )
                body = {"modelId": model_id, **answer}
                return self._send(200, _checked("GetFoundationModelAvailability", body))
            return self._error(404, "UnknownOperationException", url.path)

        def _list_profiles(self, query: dict[str, str]) -> None:
            wanted = query.get("type", "SYSTEM_DEFINED")
            ids = sorted(account.profiles) if wanted == "SYSTEM_DEFINED" else []
            start = int(query.get("nextToken") or 0)
            size = min(int(query.get("maxResults") or PAGE_SIZE), PAGE_SIZE)
            page = ids[start : start + size]
            body: dict[str, Any] = {
                "inferenceProfileSummaries": [
                    _profile_summary(p, account.profiles[p]) for p in page
                ]
            }
            if start + size < len(ids):
                body["nextToken"] = str(start + size)
            self._send(200, _checked("ListInferenceProfiles", body))

        def _error(self, status: int, code: str, message: str) -> None:
            payload = json.dumps({"message": message}).encode()
            self._send(status, payload, {"x-amzn-ErrorType": f"{code}:http://internal/"})

        def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url
