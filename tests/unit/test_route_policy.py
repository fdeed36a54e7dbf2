"""callbacks/route_policy.py: which routes a developer key reaches, decided without a proxy.

The proxy-level check of every route LiteLLM registers is tests/integration/test_proxy_routes.py;
these cover what a route enumeration cannot: how the router's template and the raw path combine.
"""

from __future__ import annotations

from types import ModuleType, SimpleNamespace

import pytest
from starlette.requests import Request

from llmops_kit.litellm_config import callbacks_module


@pytest.fixture(scope="module")
def policy() -> ModuleType:
    return callbacks_module("route_policy")


def _request(path: str, template: str | None = None) -> Request:
    """A request as the router hands it on: `route` is the matched route (its template)."""
    scope: dict[str, object] = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [],
        "query_string": b"",
        "server": ("127.0.0.1", 4000),
    }
    if template is not None:
        scope["route"] = SimpleNamespace(path=template)
    return Request(scope)


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v1/chat/completions", "/v1/chat/completions"),
        ("/v1/messages", "/v1/messages"),
        ("/v1/responses/resp_123/input_items", "/v1/responses/{response_id}/input_items"),
        ("/engines/claude-sonnet-4-6/chat/completions", "/engines/{model:path}/chat/completions"),
        ("/v1/responses", None),  # a WebSocket's synthetic request carries no template
    ],
)
def test_inference_routes_are_open_to_developer_keys(
    policy: ModuleType, path: str, template: str | None
) -> None:
    policy.check_developer_route(_request(path, template))


def test_pass_through_is_refused_even_where_its_path_looks_like_an_inference_route(
    policy: ModuleType,
) -> None:
    request = _request("/openai/deployments/x/chat/completions", "/openai/{endpoint:path}")

    with pytest.raises(Exception) as refused:
        policy.check_developer_route(request)

    assert refused.value.code == "403"
    assert "pass-through route" in refused.value.message


def test_a_prefixed_router_s_route_is_refused_though_its_own_path_is_allowed(
    policy: ModuleType,
) -> None:
    # FastAPI names an included router's route by its path without the router's prefix.
    request = _request("/some-feature/chat/completions", "/chat/completions")

    with pytest.raises(Exception) as refused:
        policy.check_developer_route(request)

    assert refused.value.code == "403"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/langfuse/api/public/projects", "pass-through"),
        ("/health", "health check"),
        ("/debug/asyncio-tasks", "admin or debug"),
        ("/key/generate", "admin or management"),
        ("/a/route/a/future/litellm/adds", "admin or management"),
    ],
)
def test_everything_else_is_refused_naming_the_route_class(
    policy: ModuleType, path: str, kind: str
) -> None:
    with pytest.raises(Exception) as refused:
        policy.check_developer_route(_request(path))

    assert refused.value.code == "403"
    assert f"{path} ({kind} route)" in refused.value.message
    assert "master key" in refused.value.message
