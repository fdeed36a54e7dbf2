"""Which proxy routes a developer key may call: an allow-list; everything else is the master key's.

A key from the keys file passes `custom_auth` on every route LiteLLM serves, including the
pass-throughs (`/langfuse/...` is forwarded with the proxy's own Langfuse keys, so a developer
could read every other developer's traces), the admin and debug routes and `GET /health`
(one real Bedrock call per model per hit). Developer keys therefore get the inference routes
clients need and nothing else; a route a future LiteLLM adds stays closed until listed here.

The decision is made on the route template the router matched (`/v1/responses/{response_id}`),
taken from the ASGI scope, so a path that looks like an allowed one but was dispatched to a
pass-through is still refused; the raw path must match that template too. Without a template
(a WebSocket's synthetic request) the raw path is matched against the same templates.

LiteLLM loads callbacks/auth.py by file path, which loads this file the same way: standard
library, starlette and litellm only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from litellm.proxy._types import ProxyException
from litellm.proxy.auth.auth_utils import get_request_route
from starlette.routing import compile_path

# Route templates exactly as LiteLLM 1.106.2 registers them (every method of each template).
DEVELOPER_ROUTES: frozenset[str] = frozenset(
    {
        # OpenAI chat completions (Cline, OpenAI SDKs) and LiteLLM's Azure-style spellings.
        "/chat/completions",
        "/v1/chat/completions",
        "/engines/{model:path}/chat/completions",
        "/openai/deployments/{model:path}/chat/completions",
        # Anthropic Messages (Claude Code) and its token counting.
        "/v1/messages",
        "/v1/messages/count_tokens",
        # OpenAI Responses (Codex CLI): create, stream over WebSocket, compact, count, and
        # the caller's stored responses.
        "/responses",
        "/v1/responses",
        "/openai/v1/responses",
        "/responses/compact",
        "/v1/responses/compact",
        "/openai/v1/responses/compact",
        "/responses/input_tokens",
        "/v1/responses/input_tokens",
        "/openai/v1/responses/input_tokens",
        "/responses/{response_id}",
        "/v1/responses/{response_id}",
        "/openai/v1/responses/{response_id}",
        "/responses/{response_id}/cancel",
        "/v1/responses/{response_id}/cancel",
        "/openai/v1/responses/{response_id}/cancel",
        "/responses/{response_id}/input_items",
        "/v1/responses/{response_id}/input_items",
        "/openai/v1/responses/{response_id}/input_items",
        # Embeddings (answered only for configured embedding models).
        "/embeddings",
        "/v1/embeddings",
        "/engines/{model:path}/embeddings",
        "/openai/deployments/{model:path}/embeddings",
        # Which models exist, and their limits (Cline reads /v1/model/info to size its context).
        "/models",
        "/v1/models",
        "/models/{model_id}",
        "/v1/models/{model_id}",
        "/model/info",
        "/v1/model/info",
        # Is the proxy up (no model call behind either).
        "/health/liveliness",
        "/health/liveness",
        "/health/readiness",
    }
)

DEVELOPER_ROUTES_SUMMARY = (
    "chat completions, messages and count_tokens, responses, embeddings, models and model "
    "info, liveliness and readiness"
)

# Route classes named in a refusal, first match wins; anything else is an admin route.
_ROUTE_CLASSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\{endpoint(:path)?\}|^/langfuse/|passthrough|pass_through"), "pass-through"),
    (re.compile(r"^/health(/|$)"), "health check"),
    (re.compile(r"^/(debug|routes|settings|get/config|config)(/|$)"), "admin or debug"),
)
_PATTERNS: dict[str, re.Pattern[str]] = {
    template: compile_path(template)[0] for template in sorted(DEVELOPER_ROUTES)
}


def request_route(request: Any) -> tuple[str | None, str]:
    """The template of the route the router matched (None without one) and the path as
    LiteLLM's own route checks read it (the ASGI path, a root path stripped)."""
    scope: Mapping[str, Any] = getattr(request, "scope", None) or {}
    template = getattr(scope.get("route"), "path", None)
    path = get_request_route(request)
    return (template if isinstance(template, str) and template else None), path


def developer_may_call(template: str | None, path: str) -> bool:
    """True for a template on the allow-list that the path matches; without a template, a path
    one of them matches. FastAPI reports an included router's route by its own path, without
    the router's prefix: matching the path too keeps `/prefix/chat/completions` out."""
    if template is not None:
        pattern = _PATTERNS.get(template)
        return pattern is not None and pattern.fullmatch(path) is not None
    return any(pattern.fullmatch(path) for pattern in _PATTERNS.values())


def route_class(route: str) -> str:
    for pattern, name in _ROUTE_CLASSES:
        if pattern.search(route):
            return name
    return "admin or management"


def check_developer_route(request: Any) -> None:
    """Raise ProxyException(403) unless a developer key may call the request's route."""
    template, path = request_route(request)
    if developer_may_call(template, path):
        return
    route = template or path
    raise ProxyException(
        message=(
            f"Developer keys may not call {route} ({route_class(route)} route): it needs the "
            f"proxy's master key. Developer keys reach {DEVELOPER_ROUTES_SUMMARY}."
        ),
        type="auth_error",
        param="route",
        code=403,
    )
