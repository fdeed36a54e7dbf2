"""Users named by a trusted front end (Open WebUI): who is chatting, and in which chat.

A chat front end calls the proxy with one key for all its users. Open WebUI, started with
ENABLE_FORWARD_USER_INFO_HEADERS=true, names the person and the chat of each call in headers
(backend/open_webui/utils/headers.py, `include_user_info_headers` and
`get_headers_and_cookies`, open-webui 0.12.4): X-OpenWebUI-User-Name (URL-quoted),
X-OpenWebUI-User-Id, X-OpenWebUI-User-Email and X-OpenWebUI-User-Role on every call, and
X-OpenWebUI-Chat-Id when the call belongs to a chat.

Anyone can send such headers, so they name the trace's user and session only when the key is
marked `forwards_users: true` in the keys file: the auth hook puts that flag in the key's
metadata, which LiteLLM hands to callbacks as `user_api_key_metadata` after stripping any
`user_api_key_*` field a caller put in the request. From any other key they are ignored and
the key's own user stays on the trace: a developer cannot charge their traffic to someone else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FRONT_END = "open-webui"
HEADER_PREFIX = "x-openwebui-"
USER_EMAIL_HEADER = "x-openwebui-user-email"
USER_ID_HEADER = "x-openwebui-user-id"
CHAT_ID_HEADER = "x-openwebui-chat-id"
KEY_METADATA = "user_api_key_metadata"
TRUST_FLAG = "forwards_users"
MAX_VALUE_CHARS = 256


@dataclass(frozen=True)
class ForwardedUser:
    """The person and the chat a trusted front end named (None where it named none).
    Its User-Agent is only aiohttp's, so the front end also names the client."""

    user: str | None
    session: str | None
    client: str = FRONT_END


def trusted(metadata: Mapping[str, Any]) -> bool:
    """Whether the request's key is marked `forwards_users: true` in the keys file."""
    key_metadata = metadata.get(KEY_METADATA)
    return isinstance(key_metadata, Mapping) and key_metadata.get(TRUST_FLAG) is True


def forwarded_user(metadata: Mapping[str, Any], headers: Mapping[str, str]) -> ForwardedUser | None:
    """The user (e-mail, else Open WebUI's user id) and session (the chat id) the front end
    sent, from a trusted key only; None when untrusted or nothing was sent. `headers` have
    lowercase names."""
    if not trusted(metadata) or not any(name.startswith(HEADER_PREFIX) for name in headers):
        return None
    user = _value(headers.get(USER_EMAIL_HEADER)) or _value(headers.get(USER_ID_HEADER))
    return ForwardedUser(user, _value(headers.get(CHAT_ID_HEADER)))


def _value(raw: str | None) -> str | None:
    value = (raw or "").strip()
    return value[:MAX_VALUE_CHARS] or None
