"""Pre-flight for AWS Bedrock through boto3: identity, clock, and access to each model.

It asks the same credential chain the proxy uses (keys, session token, profile, role) and
the same Bedrock Runtime endpoint (AWS_BEDROCK_RUNTIME_ENDPOINT when set), so a pass here
means the proxy's calls will be signed and admitted too. boto3 honours
AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL_BEDROCK_RUNTIME, which is how tests point it at
moto and the Bedrock stand-in. A model probe is the smallest billable call there is:
Converse with maxTokens=1.

    BedrockError
    ├── NoCredentials             the chain found nothing
    ├── CredentialsExpired        a temporary session token has expired
    ├── CredentialsRejected       AWS does not accept the key pair (wrong secret, unknown id)
    ├── ClockSkewed               AWS refused the signature's time: this clock is > 5 min off
    └── AwsUnreachable            no answer from the endpoint

A clock more than five minutes off makes AWS refuse every signature, in words that look like
a wrong key (STS: `SignatureDoesNotMatch` "Signature expired: ..."; Bedrock:
`InvalidSignatureException` with the same words; elsewhere `RequestExpired`,
`RequestTimeTooSkewed`). Those are told apart first, and the refusal itself gives AWS's time.
"""

from __future__ import annotations

import calendar
import email.utils
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from .errors import BedrockError

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20
SKEW_WARN_SECONDS = 60
# SigV4 rejects requests signed more than five minutes away from AWS's clock.
SKEW_FAIL_SECONDS = 300
PROBE_PROMPT = "Reply with one word."

EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException"})
SKEW_CODES = frozenset({"RequestExpired", "RequestTimeTooSkewed"})
# AWS's words for a signature whose time is off, whatever the error code around them.
SKEW_WORDS = r"Signature expired|Signature not yet current|RequestTimeTooSkewed|RequestExpired"
_SKEW_WORDS = re.compile(SKEW_WORDS, re.IGNORECASE)
# "Signature expired: <signed> is now earlier than <limit> (<AWS's time> - 5 min.)"; the
# "not yet current" form reads "... is still later than <limit> (<AWS's time> + 5 min.)".
_SIGV4_TIMES = re.compile(
    r"(\d{8}T\d{6}Z) is (?:now earlier|still later) than \d{8}T\d{6}Z \((\d{8}T\d{6}Z)"
)
REJECTED_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignature",
    }
)
CLOCK_FIX = "Synchronise this machine's clock: sudo timedatectl set-ntp true (or chronyc makestep)"
CREDENTIALS_FIX = (
    "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary "
    "keys) in .env, or AWS_PROFILE=<profile> with `aws sso login --profile <profile>`."
)


class NoCredentials(BedrockError):
    """boto3's credential chain found no credentials."""


class CredentialsExpired(BedrockError):
    """The session token has expired."""


class CredentialsRejected(BedrockError):
    """AWS rejected the signature or the access key id."""


class ClockSkewed(BedrockError):
    """AWS refused the request's time: this machine's clock is more than five minutes off."""

    def __init__(self, message: str, *, fix: str, skew_seconds: float | None) -> None:
        super().__init__(message, fix=fix)
        self.skew_seconds = skew_seconds


class AwsUnreachable(BedrockError):
    """The STS or Bedrock Runtime endpoint did not answer."""


@dataclass(frozen=True)
class Identity:
    """Who AWS says we are, and how far our clock is from AWS's (None: no Date header)."""

    account: str
    arn: str
    clock_skew_seconds: float | None


@dataclass(frozen=True)
class ModelAccess:
    """The outcome of one probe: `code` is AWS's error code, empty when the call worked."""

    model_id: str
    code: str = ""
    message: str = ""

    @property
    def granted(self) -> bool:
        # Throttling proves the call was signed and admitted: access is there.
        return self.code in ("", "ThrottlingException", "ServiceQuotaExceededException")


def session_for(settings: Mapping[str, str]) -> boto3.Session:
    """A boto3 session from the settings the proxy gets; empty values use the default chain."""
    try:
        return boto3.Session(
            aws_access_key_id=settings.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=settings.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_session_token=settings.get("AWS_SESSION_TOKEN") or None,
            profile_name=settings.get("AWS_PROFILE") or None,
            region_name=settings.get("AWS_REGION") or None,
        )
    except ProfileNotFound:
        raise NoCredentials(
            f"AWS_PROFILE={settings.get('AWS_PROFILE')} is not a profile in ~/.aws/config",
            fix="Set AWS_PROFILE in .env to a profile listed by `aws configure list-profiles`.",
        ) from None


def credential_source(session: boto3.Session) -> str:
    """Where the chain found credentials (env, shared-credentials-file, sso, iam-role...)."""
    credentials = session.get_credentials()
    if credentials is None:
        raise NoCredentials(
            "no AWS credentials found in .env, the environment or ~/.aws", fix=CREDENTIALS_FIX
        )
    return credentials.method or "unknown"


def _client_config() -> Config:
    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"total_max_attempts": 1},
    )


def clock_skew(headers: Mapping[str, str], received_at: float) -> float | None:
    """Seconds AWS's clock is ahead of ours, from a response's Date header."""
    date = headers.get("date")
    if not date:
        return None
    try:
        return email.utils.parsedate_to_datetime(date).timestamp() - received_at
    except (TypeError, ValueError):
        return None


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _sigv4_time(text: str) -> float:
    return float(calendar.timegm(time.strptime(text, "%Y%m%dT%H%M%SZ")))


def is_clock_skew(code: str, message: str) -> bool:
    """True when AWS refused a request for its time, not for its key."""
    return code in SKEW_CODES or bool(_SKEW_WORDS.search(message))


def refusal_skew(error: ClientError, received_at: float) -> float | None:
    """Seconds AWS's clock is ahead of ours, from a refusal: the times in its message, else
    its Date header; None when it carries neither."""
    message = str(error.response.get("Error", {}).get("Message", ""))
    times = _SIGV4_TIMES.search(message)
    if times:
        return _sigv4_time(times.group(2)) - _sigv4_time(times.group(1))
    headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return clock_skew(headers, received_at)


def skew_text(skew: float) -> str:
    return f"this clock is {abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'} AWS"


def _raise_for_credentials(error: ClientError, service: str) -> None:
    code = _error_code(error)
    message = str(error.response.get("Error", {}).get("Message", ""))
    if is_clock_skew(code, message):
        skew = refusal_skew(error, time.time())
        shown = skew_text(skew) if skew is not None else "this clock is more than 5 min off"
        raise ClockSkewed(
            f"{service} refused the request's time ({code}: {message}): {shown}; the "
            "credentials were not checked",
            fix=CLOCK_FIX,
            skew_seconds=skew,
        )
    if code in EXPIRED_CODES:
        raise CredentialsExpired(
            f"the AWS session token has expired ({service} answered {code})",
            fix="Get fresh temporary credentials (`aws sso login`, or a new AWS_SESSION_TOKEN "
            "with its key pair in .env), then run doctor again.",
        )
    if code in REJECTED_CODES:
        raise CredentialsRejected(
            f"{service} rejected the AWS credentials: {code}: {message}",
            fix="AWS_SECRET_ACCESS_KEY does not belong to AWS_ACCESS_KEY_ID: copy both "
            "from the same access key into .env.",
        )


def caller_identity(session: boto3.Session) -> Identity:
    """STS GetCallerIdentity: the cheapest signed call, and AWS's Date for the clock."""
    credential_source(session)
    client = session.client("sts", config=_client_config())
    try:
        response = client.get_caller_identity()
    except NoCredentialsError:
        raise NoCredentials("no AWS credentials found", fix=CREDENTIALS_FIX) from None
    except ClientError as error:
        _raise_for_credentials(error, "STS")
        raise CredentialsRejected(
            f"STS refused GetCallerIdentity: {_error_code(error)}", fix=CREDENTIALS_FIX
        ) from None
    except BotoCoreError as error:
        raise AwsUnreachable(
            f"cannot reach AWS STS: {type(error).__name__}",
            fix="Check the network and AWS_REGION; behind a proxy set HTTPS_PROXY.",
        ) from None
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return Identity(
        account=str(response.get("Account", "")),
        arn=str(response.get("Arn", "")),
        clock_skew_seconds=clock_skew(headers, time.time()),
    )


def probe_model(
    session: boto3.Session, model_id: str, *, endpoint_url: str | None = None
) -> ModelAccess:
    """Converse with maxTokens=1; credential errors raise, model errors are returned."""
    client = session.client(
        "bedrock-runtime", endpoint_url=endpoint_url or None, config=_client_config()
    )
    try:
        client.converse(
            modelId=model_id,
            messages=[{"role": "user", "content": [{"text": PROBE_PROMPT}]}],
            inferenceConfig={"maxTokens": 1},
        )
    except NoCredentialsError:
        raise NoCredentials("no AWS credentials found", fix=CREDENTIALS_FIX) from None
    except ClientError as error:
        _raise_for_credentials(error, "Bedrock")
        message = str(error.response.get("Error", {}).get("Message", ""))
        return ModelAccess(model_id, _error_code(error) or "UnknownError", message)
    except BotoCoreError as error:
        raise AwsUnreachable(
            f"cannot reach Bedrock Runtime: {type(error).__name__}",
            fix="Check AWS_REGION and AWS_BEDROCK_RUNTIME_ENDPOINT in .env.",
        ) from None
    return ModelAccess(model_id)


def model_access_fix(access: ModelAccess, region: str) -> str:
    """What to do about one model's refusal, by AWS's error code."""
    if access.code == "AccessDeniedException":
        return (
            f"Grant access to {access.model_id}: Bedrock console > Model access in {region} "
            "(and every region its inference profile routes to), and allow "
            "bedrock:InvokeModel* on it in the IAM policy of the caller."
        )
    if access.code in ("ValidationException", "ResourceNotFoundException"):
        return (
            f"{access.model_id} is not offered as configured in {region}: check "
            "BEDROCK_PROFILE_PREFIX and AWS_REGION in .env against the model's inference "
            "profiles (`aws bedrock list-inference-profiles`)."
        )
    return f"Bedrock refused {access.model_id} with {access.code}: see the AWS message above."


# ---- EC2: can containers reach the instance role?

IMDS_TOKEN_PROBE = """
import urllib.request
request = urllib.request.Request(
    "http://169.254.169.254/latest/api/token", method="PUT",
    headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
try:
    urllib.request.urlopen(request, timeout=3).read()
    print("reachable")
except Exception as error:
    print("unreachable", type(error).__name__)
"""


def ec2_instance_id(sys_root: Path = Path("/sys")) -> str | None:
    """The instance id when this host is an EC2 instance (read from DMI), else None."""
    dmi = sys_root / "devices" / "virtual" / "dmi" / "id"
    try:
        vendor = (dmi / "sys_vendor").read_text().strip()
        tag = (dmi / "board_asset_tag").read_text().strip()
    except OSError:
        return None
    if vendor != "Amazon EC2":
        return None
    return tag if tag.startswith("i-") else "<instance-id>"


def hop_limit_fix(instance_id: str) -> str:
    return (
        f"aws ec2 modify-instance-metadata-options --instance-id {instance_id} "
        "--http-tokens required --http-put-response-hop-limit 2 --http-endpoint enabled"
    )


def uses_static_keys(settings: Mapping[str, str]) -> bool:
    return bool(settings.get("AWS_ACCESS_KEY_ID") and settings.get("AWS_SECRET_ACCESS_KEY"))
