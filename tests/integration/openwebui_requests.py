"""Open WebUI 0.12.4's calls to an OpenAI connection, as its source builds them.

Headers: `get_headers_and_cookies` in backend/open_webui/utils/headers.py. With
ENABLE_FORWARD_USER_INFO_HEADERS=true, `include_user_info_headers` adds the user's name
(URL-quoted), id, e-mail and role, and the chat id follows when the call belongs to a chat
(chats and their title/tags/follow-up tasks). The User-Agent is aiohttp's default (Open WebUI
pins aiohttp 3.14.5 and sets none).

Bodies: `generate_chat_completion` in backend/open_webui/routers/openai.py posts the chat's
`model`, `messages` and `stream` to `<connection URL>/chat/completions`; `stream_options`
with `include_usage` only when the model's "usage" capability is switched on (main.py), and
a task such as the title is `stream: false` (routers/tasks.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

USER_AGENT = "Python/3.11 aiohttp/3.14.5"


def headers(
    api_key: str, *, name: str, user_id: str, email: str, chat_id: str | None
) -> dict[str, str]:
    sent = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-OpenWebUI-User-Name": quote(name.strip(), safe=" "),
        "X-OpenWebUI-User-Id": user_id,
        "X-OpenWebUI-User-Email": email.strip(),
        "X-OpenWebUI-User-Role": "user",
        "Authorization": f"Bearer {api_key}",
    }
    if chat_id:
        sent["X-OpenWebUI-Chat-Id"] = chat_id
    return sent


def chat_body(model: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """A chat turn with the model's "usage" capability off (the default): no stream_options."""
    return {"stream": True, "model": model, "messages": messages}


def title_body(model: str, conversation: str) -> dict[str, Any]:
    """The title task Open WebUI runs after a chat's first answer."""
    prompt = (
        "### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the chat "
        f"history.\n### Chat History:\n<chat_history>\n{conversation}\n</chat_history>"
    )
    return {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": False}
