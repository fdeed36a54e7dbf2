"""Who is calling: SigV4 signatures checked with botocore's own signer, or a Bedrock API key.

The check recomputes the signature from what arrived on the wire: the raw (still
percent-encoded) path, the query, exactly the headers the caller listed in SignedHeaders,
the body, and the X-Amz-Date, with the configured secret. botocore's SigV4Auth does the
canonicalisation, so a client that botocore signs (boto3, LiteLLM) is judged by the same
rules AWS applies. Session tokens are signed like any header but not checked themselves, and
any region is accepted (the call log records the one signed for).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.datastructures import Headers

from . import errors
from .errors import Rejected

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed_headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]+)"
)
SIGNING_SERVICE = "bedrock"


@dataclass(frozen=True)
class AuthConfig:
    """The identities the stand-in accepts; a part left as None accepts nobody."""

    access_key_id: str | None = None
    secret_access_key: str | None = None
    bearer_token: str | None = None


@dataclass(frozen=True)
class Caller:
    """An authenticated caller, as recorded in the call log."""

    scheme: str
    access_key_id: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an HTTP request that a signature covers, as they arrived."""

    method: str
    raw_path: str
    query: str
    headers: Headers
    body: bytes


def authenticate(request: SignedRequest, config: AuthConfig) -> Caller:
    """Return the caller or raise Rejected with the error AWS gives for this failure."""
    authorization = request.headers.get("authorization")
    if not authorization:
        raise Rejected(errors.MISSING_AUTHENTICATION)
    if authorization.startswith("Bearer "):
        return _bearer(authorization.removeprefix("Bearer ").strip(), config)
    return _sigv4(authorization, request, config)


def _bearer(token: str, config: AuthConfig) -> Caller:
    if config.bearer_token is None or not hmac.compare_digest(token, config.bearer_token):
        raise Rejected(errors.INVALID_API_KEY)
    return Caller(scheme="bearer")


def _sigv4(authorization: str, request: SignedRequest, config: AuthConfig) -> Caller:
    match = _AUTHORIZATION.fullmatch(authorization.strip())
    amz_date = request.headers.get("x-amz-date")
    if match is None or amz_date is None:
        raise Rejected(errors.INCOMPLETE_SIGNATURE)
    scope = match["credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise Rejected(errors.INCOMPLETE_SIGNATURE)
    access_key_id, _date, region, service, _terminator = scope
    if service != SIGNING_SERVICE:
        raise Rejected(errors.WRONG_SERVICE_SCOPE)
    if config.access_key_id is None or access_key_id != config.access_key_id:
        raise Rejected(errors.UNRECOGNIZED_CLIENT)
    expected = _signature(
        request,
        signed_headers=match["signed_headers"].split(";"),
        amz_date=amz_date,
        region=region,
        credentials=Credentials(config.access_key_id, config.secret_access_key or ""),
    )
    if not hmac.compare_digest(expected, match["signature"]):
        raise Rejected(errors.INVALID_SIGNATURE)
    return Caller(scheme="sigv4", access_key_id=access_key_id, region=region)


def _signature(
    request: SignedRequest,
    *,
    signed_headers: list[str],
    amz_date: str,
    region: str,
    credentials: Credentials,
) -> str:
    host = request.headers.get("host", "")
    url = f"http://{host}{request.raw_path}" + (f"?{request.query}" if request.query else "")
    headers = {
        name: ",".join(request.headers.getlist(name))
        for name in signed_headers
        if name in request.headers
    }
    aws_request = AWSRequest(method=request.method, url=url, data=request.body, headers=headers)
    aws_request.context["timestamp"] = amz_date
    signer = SigV4Auth(credentials, SIGNING_SERVICE, region)
    canonical_request = signer.canonical_request(aws_request)
    return signer.signature(signer.string_to_sign(aws_request, canonical_request), aws_request)
