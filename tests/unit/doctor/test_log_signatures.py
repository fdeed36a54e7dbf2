"""Known error signatures in `docker compose logs` output, attributed to the right service."""

from __future__ import annotations

from llmops_kit.doctor.findings import Status
from llmops_kit.doctor.logs import scan

# Shaped like `docker compose logs --no-color` (compose 2.40): `<service>-<n>  | <line>`.
LINES = [
    'litellm-1  | INFO:     127.0.0.1:50312 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
    "litellm-1  | litellm.exceptions.PermissionDeniedError: BedrockException - "
    '{"message":"You don\'t have access to the model with the specified model ID."} '
    "AccessDeniedException",
    "litellm-1  | litellm.proxy.proxy_server.ProxyException: 403",
    "langfuse-web-1  | Error: connect ECONNREFUSED 172.18.0.4:8123 (ClickHouse query failed)",
    "langfuse-worker-1  | ClickHouseError: connect ECONNREFUSED 172.18.0.4:8123",
    "redis-1  | AccessDeniedException in a service doctor does not read for it",
]


def _by_name() -> dict[str, tuple[int, str]]:
    return {signature.name: found for signature, found in scan(LINES).items()}


def test_bedrock_access_denied_is_found_in_the_proxy_log() -> None:
    count, example = _by_name()["AccessDeniedException"]
    assert count == 1
    assert example.startswith("litellm-1")


def test_clickhouse_connection_errors_are_counted_across_web_and_worker() -> None:
    assert _by_name()["ClickHouse unreachable"][0] == 2


def test_a_signature_is_only_looked_for_in_the_services_it_concerns() -> None:
    assert all(not example.startswith("redis") for _, example in _by_name().values())


def test_proxy_exceptions_alone_only_warn() -> None:
    (signature,) = scan(["litellm-1  | ProxyException: 401 invalid key"])
    assert signature.severity is Status.WARN


def test_healthy_logs_match_nothing() -> None:
    assert scan(LINES[:1]) == {}


def test_a_signature_refused_for_its_time_is_the_clock_not_the_key() -> None:
    line = (
        "litellm-1  | litellm.exceptions.AuthenticationError: BedrockException - "
        '{"message":"Signature expired: 20261206T101500Z is now earlier than 20261206T102000Z '
        '(20261206T102500Z - 5 min.)"} InvalidSignatureException'
    )

    (signature,) = scan([line])

    assert signature.name == "clock skew"
    assert "timedatectl" in signature.fix


def test_a_wrong_secret_is_still_a_rejected_signature() -> None:
    line = (
        "litellm-1  | BedrockException - InvalidSignatureException: The request signature we "
        "calculated does not match the signature you provided."
    )

    (signature,) = scan([line])

    assert signature.name == "signature rejected"
