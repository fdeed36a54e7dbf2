"""The error answers Bedrock Runtime gives, with its real status codes, types and wording.

Every error is JSON `{"message": ...}` with the type in the `x-amzn-ErrorType` header
(`Type:namespace`), which is where botocore reads the error code from. Authentication errors
come from the AWS front door (coral namespace), the rest from Bedrock itself.
"""

from __future__ import annotations

from dataclasses import dataclass

_BEDROCK_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
_GATEWAY_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.service/"

THINKING_BLOCK_REQUIRED = (
    "The model returned the following errors: messages.{index}.content.0.type: Expected "
    "`thinking` or `redacted_thinking`, but found `{found}`. When `thinking` is enabled, a final "
    "`assistant` message must start with a thinking block (preceeding the lastmost set of "
    "`tool_use` and `tool_result` blocks). We recommend you include thinking blocks from "
    "previous turns. To avoid this requirement, disable `thinking`. Please consult our "
    "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
)

SIGNATURE_REQUIRED = (
    "The model returned the following errors: {where}.thinking.signature: Field required"
)
SIGNATURE_INVALID = (
    "The model returned the following errors: {where}: Invalid `signature` in `thinking` block"
)


@dataclass(frozen=True)
class ServiceError:
    """An HTTP error answer: status, the `x-amzn-ErrorType` code and the message."""

    status: int
    code: str
    message: str
    namespace: str = _BEDROCK_NAMESPACE
    message_key: str = "message"

    @property
    def error_type_header(self) -> str:
        return f"{self.code}:{self.namespace}"

    @property
    def body(self) -> dict[str, str]:
        return {self.message_key: self.message}


class Rejected(Exception):
    """Raised anywhere in request handling to answer with `error` instead."""

    def __init__(self, error: ServiceError) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


def validation(message: str) -> ServiceError:
    return ServiceError(400, "ValidationException", message)


THROTTLING_MESSAGE = "Too many requests, please wait before trying again."
THROTTLING = ServiceError(429, "ThrottlingException", THROTTLING_MESSAGE)
INVALID_MODEL = validation("The provided model identifier is invalid.")
MALFORMED_BODY = validation("Malformed input request, please reformat your input and try again.")
MUST_START_WITH_USER = validation(
    "A conversation must start with a user message. "
    "Try again with a conversation that starts with a user message."
)
MUST_ALTERNATE = validation(
    "A conversation must alternate between user and assistant roles. "
    "Make sure the conversation alternates between user and assistant roles and try again."
)
SERVICE_UNAVAILABLE = ServiceError(
    503, "ServiceUnavailableException", "Bedrock is unable to process your request."
)
ACCESS_DENIED = ServiceError(
    403, "AccessDeniedException", "You don't have access to the model with the specified model ID."
)
INVALID_SIGNATURE = ServiceError(
    403,
    "InvalidSignatureException",
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details.",
    _GATEWAY_NAMESPACE,
)
UNRECOGNIZED_CLIENT = ServiceError(
    403,
    "UnrecognizedClientException",
    "The security token included in the request is invalid.",
    _GATEWAY_NAMESPACE,
)
INCOMPLETE_SIGNATURE = ServiceError(
    403,
    "IncompleteSignatureException",
    "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters "
    "and an 'X-Amz-Date' header.",
    _GATEWAY_NAMESPACE,
)
MISSING_AUTHENTICATION = ServiceError(
    403, "MissingAuthenticationTokenException", "Missing Authentication Token", _GATEWAY_NAMESPACE
)
INVALID_API_KEY = ServiceError(
    403,
    "AccessDeniedException",
    "Authentication failed: Please make sure your API Key is valid.",
    message_key="Message",
)


WRONG_SERVICE_SCOPE = ServiceError(
    403,
    "InvalidSignatureException",
    "Credential should be scoped to correct service: 'bedrock'. ",
    _GATEWAY_NAMESPACE,
)
