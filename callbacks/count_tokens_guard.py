"""Keep `/v1/messages/count_tokens` on the Bedrock endpoint and region the user configured.

Claude Code calls count_tokens to size its context. LiteLLM 1.106.2 answers it with Bedrock's
CountTokens (`POST /model/<base id>/count-tokens`) at the configured runtime endpoint, and
then, unasked, may leave it:

- when CountTokens answers 400 or 404 for a Claude model, LiteLLM asks Anthropic's
  count_tokens on the public `bedrock-mantle.<region>.api.aws` host, a host the user never
  configured (behind a private VPC endpoint that call goes to the internet, or hangs);
- the price map names a `token_count_model` with a `region` for the newer Claude models
  (opus-4-7 and later: `us-east-1` for every `us.` profile), and LiteLLM signs and, without
  an endpoint override, sends the count to that region instead of the configured one.

This module turns both off: the bedrock-mantle step fails at once without a connection
(unless BEDROCK_MANTLE_API_BASE is set: then the user configured that host themselves), and
the count model keeps the deployment's own region. When CountTokens fails, LiteLLM answers
its local estimate, as it would after a failed bedrock-mantle call.

LiteLLM loads this file by path when it reads `litellm_settings.callbacks`; creating
`count_tokens_guard` installs both changes, once per process. Standard library and litellm
only: the module is loaded without its package.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from typing import Any

from litellm.integrations.custom_logger import CustomLogger
from litellm.llms.bedrock.common_utils import BedrockError, BedrockModelInfo
from litellm.llms.bedrock.count_tokens.bedrock_token_counter import BedrockTokenCounter
from litellm.llms.bedrock.count_tokens.mantle_handler import BedrockMantleCountTokensHandler

MANTLE_BASE_VARIABLE = "BEDROCK_MANTLE_API_BASE"
MANTLE_OFF_MESSAGE = (
    "bedrock-mantle count_tokens is off: the kit sends counts only to the configured Bedrock "
    f"endpoint; set {MANTLE_BASE_VARIABLE} to allow a bedrock-mantle endpoint"
)
_MARKER = "_llmops_count_tokens_guard"


class ConfiguredMantleOnly(BedrockMantleCountTokensHandler):
    """LiteLLM's bedrock-mantle step, taken only toward an endpoint the user configured."""

    async def handle_count_tokens_request(self, *args: Any, **kwargs: Any) -> Any:
        if os.environ.get(MANTLE_BASE_VARIABLE):
            return await super().handle_count_tokens_request(*args, **kwargs)
        raise BedrockError(status_code=404, message=MANTLE_OFF_MESSAGE)


def guarded_token_counter(self: BedrockModelInfo) -> BedrockTokenCounter:
    return BedrockTokenCounter(mantle_handler=ConfiguredMantleOnly())


def in_configured_region(resolve: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap LiteLLM's token-count settings so a count model keeps the deployment's region."""

    @functools.wraps(resolve)
    def resolve_in_configured_region(*args: Any, **kwargs: Any) -> Any:
        settings = resolve(*args, **kwargs)
        count_model = settings.count_model
        if count_model is None or count_model.region is None:
            return settings
        return dataclasses.replace(
            settings, count_model=dataclasses.replace(count_model, region=None)
        )

    setattr(resolve_in_configured_region, _MARKER, True)
    return resolve_in_configured_region


def install() -> None:
    """Idempotent; the proxy server module is imported here (it has loaded this file)."""
    from litellm.proxy import proxy_server

    BedrockModelInfo.get_token_counter = guarded_token_counter  # type: ignore[method-assign]
    resolve = proxy_server.resolve_token_count_settings
    if not getattr(resolve, _MARKER, False):
        proxy_server.resolve_token_count_settings = in_configured_region(resolve)


class CountTokensGuard(CustomLogger):
    """Creating it installs the guard (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        install()


count_tokens_guard = CountTokensGuard()
