"""Open WebUI's user and chat headers name the trace's user and session, from a trusted key only."""

from __future__ import annotations

from typing import Any

from callbacks import extract, mapping

# What Open WebUI 0.12.4 sends with ENABLE_FORWARD_USER_INFO_HEADERS=true (utils/headers.py).
OPEN_WEBUI_HEADERS = {
    "X-OpenWebUI-User-Name": "Bob%20M%C3%BCller",
    "X-OpenWebUI-User-Id": "0b9e2c4e-6a7d-4d55-9f0e-6f1d2b7f3a10",
    "X-OpenWebUI-User-Email": "bob@example.com",
    "X-OpenWebUI-User-Role": "user",
    "X-OpenWebUI-Chat-Id": "5d2f8a61-3c0b-4f7e-8a9d-1e2b3c4d5e6f",
}


def _kwargs(captured, headers: dict[str, str], *, forwards_users: Any) -> dict[str, Any]:
    kwargs = captured("cline_turn2_stream_success")
    metadata = kwargs["litellm_params"]["metadata"]
    metadata.update(
        user_api_key_user_id="open-webui@example.com",
        user_api_key_alias="open-webui",
        user_api_key_metadata={"forwards_users": forwards_users},
    )
    metadata["headers"] = {**metadata.get("headers", {}), **headers}
    return kwargs


def test_a_trusted_key_puts_open_webuis_user_and_chat_on_the_trace(captured) -> None:
    request = extract.request_from_logging(
        _kwargs(captured, OPEN_WEBUI_HEADERS, forwards_users=True)
    )
    assert request.user_id == "bob@example.com"
    assert request.explicit_session == OPEN_WEBUI_HEADERS["X-OpenWebUI-Chat-Id"]
    assert request.key_alias == "open-webui"
    fields = mapping.trace_fields(request, session_id="s", environment="ci", fallback=False)
    assert fields.name == "open-webui / claude-sonnet-4-6"
    assert fields.tags[0] == "open-webui"
    assert extract.request_from_json(vars(request)) == request  # crosses to the delivery process


def test_any_other_key_keeps_its_own_user_and_ignores_the_headers(captured) -> None:
    for flag in (False, "true", None):
        request = extract.request_from_logging(
            _kwargs(captured, OPEN_WEBUI_HEADERS, forwards_users=flag)
        )
        assert request.user_id == "open-webui@example.com"
        assert request.explicit_session is None
        assert request.client is None


def test_without_an_e_mail_the_open_webui_user_id_names_the_user(captured) -> None:
    headers = {"X-OpenWebUI-User-Id": "u-42", "X-OpenWebUI-User-Email": " "}
    request = extract.request_from_logging(_kwargs(captured, headers, forwards_users=True))
    assert (request.user_id, request.explicit_session) == ("u-42", None)


def test_a_trusted_call_without_a_chat_keeps_the_key_user_when_no_user_is_named(
    captured,
) -> None:
    headers = {"X-OpenWebUI-User-Role": "admin"}
    request = extract.request_from_logging(_kwargs(captured, headers, forwards_users=True))
    assert request.user_id == "open-webui@example.com"
    assert request.client == "open-webui"


def test_the_router_attempt_path_reads_the_same_identity() -> None:
    data = {
        "litellm_call_id": "c1",
        "model": "claude-sonnet-4-6",
        "messages": [{"role": "user", "content": "hi"}],
        "metadata": {
            "user_api_key_user_id": "open-webui@example.com",
            "user_api_key_metadata": {"forwards_users": True},
            "headers": {k.lower(): v for k, v in OPEN_WEBUI_HEADERS.items()},
        },
    }
    request = extract.request_from_data(data)
    assert request.user_id == "bob@example.com"
    assert request.explicit_session == OPEN_WEBUI_HEADERS["X-OpenWebUI-Chat-Id"]
