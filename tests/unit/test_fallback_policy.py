"""callbacks/fallback_policy.py: which failures may go to another route.

The proxy-level proof (exactly one upstream call after a 400) is in
tests/integration/test_proxy_failures.py; these pin the classification and the wiring.
"""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import pytest

from llmops_kit.litellm_config import callbacks_module


@pytest.fixture(scope="module")
def policy() -> ModuleType:
    return callbacks_module("fallback_policy")


def _error(status: int | None) -> Exception:
    error = Exception("upstream failed")
    error.status_code = status  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, None])
def test_throttling_timeouts_and_server_errors_may_fall_back(
    policy: ModuleType, status: int | None
) -> None:
    assert policy.fallback_allowed(_error(status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422, 424])
def test_client_errors_never_fall_back(policy: ModuleType, status: int) -> None:
    assert not policy.fallback_allowed(_error(status))


def test_prompt_too_long_is_left_to_the_context_window_fallbacks(policy: ModuleType) -> None:
    import litellm

    error = litellm.ContextWindowExceededError(
        message="prompt is too long", model="m", llm_provider="bedrock"
    )

    assert policy.fallback_allowed(error)


class _Router:
    """Stands in for litellm.Router: records what its fallback step was told."""

    def __init__(self) -> None:
        self.seen: list[bool | None] = []

    async def async_function_with_fallbacks_common_utils(
        self, e: Exception, disable_fallbacks: bool | None, *rest: Any, **kwargs: Any
    ) -> None:
        self.seen.append(disable_fallbacks)


def _run_fallback_step(router: _Router, status: int, *, by_keyword: bool) -> None:
    step = router.async_function_with_fallbacks_common_utils
    if by_keyword:
        asyncio.run(step(e=_error(status), disable_fallbacks=False))
    else:
        asyncio.run(step(_error(status), False, None))


@pytest.mark.parametrize("by_keyword", [False, True])
def test_installed_policy_disables_fallbacks_for_a_400_only(
    policy: ModuleType, by_keyword: bool
) -> None:
    router = _Router()
    policy.install(_Router)

    _run_fallback_step(router, 400, by_keyword=by_keyword)
    _run_fallback_step(router, 429, by_keyword=by_keyword)

    assert router.seen == [True, False]


def test_installing_twice_wraps_once(policy: ModuleType) -> None:
    policy.install(_Router)
    installed = _Router.async_function_with_fallbacks_common_utils

    policy.install(_Router)

    assert _Router.async_function_with_fallbacks_common_utils is installed
