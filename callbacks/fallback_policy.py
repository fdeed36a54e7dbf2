"""Fall back to another route only when another route could succeed.

LiteLLM's router sends a failed request to the group's fallbacks whatever the error, a 400
included: a malformed request (or one Bedrock refuses, e.g. thinking blocks missing) would be
sent to every route of the chain and the client would see the last route's error instead of
the first. Retries are already limited per error type by `router_settings.retry_policy`;
there is no such setting for fallbacks, so this module adds one:

    fall back on   408, 409, 429 (throttling, cooled-down route) and 5xx, as LiteLLM retries
    never on       other 4xx: bad request, authentication, access denied, not found...
    untouched      a prompt too long for the route: LiteLLM sends it to
                   `context_window_fallbacks`, which only lists larger windows

LiteLLM loads this module by file path when it reads `litellm_settings.callbacks`; creating
`fallback_policy` installs the rule on the Router class, once per process. Standard library
and litellm only: the module is loaded without its package.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import litellm
from litellm.integrations.custom_logger import CustomLogger
from litellm.router import Router

log = logging.getLogger("llmops.fallback_policy")

_MARKER = "_llmops_fallback_policy"


def fallback_allowed(error: BaseException) -> bool:
    """True when another route may succeed where this one failed."""
    if isinstance(error, litellm.ContextWindowExceededError):
        return True
    status = getattr(error, "status_code", None)
    try:
        return status is None or litellm.should_retry(int(status))
    except (TypeError, ValueError):
        return True


def install(router_class: type[Router] = Router) -> None:
    """Wrap the router's fallback step so that a client error disables fallbacks. Idempotent."""
    original: Callable[..., Awaitable[Any]] = (
        router_class.async_function_with_fallbacks_common_utils
    )
    if getattr(original, _MARKER, False):
        return
    signature = inspect.signature(original)

    @functools.wraps(original)
    async def fallback_only_when_useful(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        error = bound.arguments["e"]
        if not bound.arguments["disable_fallbacks"] and not fallback_allowed(error):
            log.info(
                "not falling back after %s (status %s): another route would fail the same way",
                type(error).__name__,
                getattr(error, "status_code", None),
            )
            bound.arguments["disable_fallbacks"] = True
        return await original(*bound.args, **bound.kwargs)

    setattr(fallback_only_when_useful, _MARKER, True)
    router_class.async_function_with_fallbacks_common_utils = fallback_only_when_useful


class FallbackPolicy(CustomLogger):
    """A callback LiteLLM instantiates at start-up; it only installs the policy."""

    def __init__(self) -> None:
        super().__init__()
        install()


fallback_policy = FallbackPolicy()
