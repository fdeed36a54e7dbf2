"""Send Bedrock only the `anthropic-beta` flags it accepts for the model a request is routed to.

Claude Code sends the first-party API's flags (`claude-code-20250219`, `effort-2025-11-24`,
`context-1m-2025-08-07`, ...), and every release may add one. Bedrock answers a single flag it
does not know with `400 invalid beta flag`, failing the whole request. LiteLLM 1.106.2
forwards the client's flags to Bedrock Converse (in `additionalModelRequestFields.anthropic_beta`
and as a header) minus the ones its own map drops; this hook narrows them first to an
allow-list, per routed model, so an unknown flag is dropped instead of breaking the request:

    forwarded   flags in BEDROCK_BETA_FLAGS; `context-1m-2025-08-07` only to models that have
                a 1M-token window in the pinned price map (`max_input_tokens` of 1M, or a price
                above 200k tokens, the 1M-by-beta tier)
    dropped     everything else, including flags only the first-party API knows

Where BEDROCK_BETA_FLAGS comes from (December 2026): the `anthropic_beta` values AWS documents
for Claude on Bedrock ("Anthropic Claude Messages API" request parameters in the Bedrock user
guide, as listed in BerriAI/litellm#19877), plus the flags LiteLLM 1.106.2 itself sends to
Bedrock Converse (its bundled `anthropic_beta_headers_config.json`, `bedrock_converse`).
LiteLLM then applies that bundled map too (the proxy entrypoint pins it to the bundled copy),
so a flag reaches Bedrock only when both lists allow it.

The hook runs after the router picked a deployment, so a fallback to another model is judged
for that model, from the client's original header. Standard library and litellm only: LiteLLM
loads this file by path, without its package.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import litellm
from litellm.integrations.custom_logger import CustomLogger

log = logging.getLogger("llmops.beta_flags")

BETA_HEADER = "anthropic-beta"
CONTEXT_1M_FLAG = "context-1m-2025-08-07"
ONE_MILLION_TOKENS = 1_000_000
BEDROCK_BETA_FLAGS = frozenset(
    {
        # AWS documentation
        "computer-use-2024-10-22",
        "computer-use-2025-01-24",
        "token-efficient-tools-2025-02-19",
        "interleaved-thinking-2025-05-14",
        "output-128k-2025-02-19",
        "dev-full-thinking-2025-05-14",
        CONTEXT_1M_FLAG,
        "context-management-2025-06-27",
        "effort-2025-11-24",
        "tool-search-tool-2025-10-19",
        "tool-examples-2025-10-29",
        # LiteLLM's bundled map for Bedrock Converse
        "computer-use-2025-11-24",
        "fine-grained-tool-streaming-2025-05-14",
        "structured-outputs-2025-11-13",
    }
)


def parse_flags(value: str | Iterable[str] | None) -> list[str]:
    """A header value (`a,b`) or a list of flags, as a list without blanks or repeats."""
    items = value.split(",") if isinstance(value, str) else (value or [])
    flags = [flag.strip() for flag in items if isinstance(flag, str) and flag.strip()]
    return list(dict.fromkeys(flags))


def has_1m_window(bedrock_model: str) -> bool:
    """True when the pinned price map gives the model 1M input tokens, natively or by beta."""
    entry = litellm.model_cost.get(bedrock_model) or {}
    return (entry.get("max_input_tokens") or 0) >= ONE_MILLION_TOKENS or bool(
        entry.get("input_cost_per_token_above_200k_tokens")
    )


def accepted_flags(requested: Iterable[str], bedrock_model: str) -> list[str]:
    """The requested flags Bedrock accepts for `bedrock_model` (e.g. `us.anthropic...`)."""
    return [
        flag
        for flag in requested
        if flag in BEDROCK_BETA_FLAGS and (flag != CONTEXT_1M_FLAG or has_1m_window(bedrock_model))
    ]


def bedrock_model_id(model: str) -> str | None:
    """`bedrock/converse/us.anthropic.x` -> `us.anthropic.x`; None for other providers."""
    if not model.startswith("bedrock/"):
        return None
    return model.removeprefix("bedrock/").removeprefix("converse/").removeprefix("invoke/")


def _header(headers: object, name: str) -> str | None:
    if not isinstance(headers, Mapping):
        return None
    return next((value for key, value in headers.items() if key.lower() == name), None)


def _with_beta_header(scoped: Any, value: str) -> Any:
    """A copy of one provider_specific_header entry with its anthropic-beta replaced (or
    removed when nothing is left); entries without one are returned as they are."""
    if not isinstance(scoped, Mapping) or not isinstance(scoped.get("extra_headers"), Mapping):
        return scoped
    headers = {k: v for k, v in scoped["extra_headers"].items() if k.lower() != BETA_HEADER}
    if len(headers) == len(scoped["extra_headers"]):
        return scoped
    if value:
        headers[BETA_HEADER] = value
    return {**scoped, "extra_headers": headers}


def filter_request(kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The deployment call's kwargs with the client's flags narrowed; None when untouched."""
    bedrock_model = bedrock_model_id(str(kwargs.get("model") or ""))
    scoped = kwargs.get("provider_specific_header")
    if bedrock_model is None or scoped is None:
        return None
    client_headers = (kwargs.get("proxy_server_request") or {}).get("headers")
    requested = parse_flags(_header(client_headers, BETA_HEADER))
    kept = accepted_flags(requested, bedrock_model)
    dropped = [flag for flag in requested if flag not in kept]
    if dropped:
        log.debug("anthropic-beta for %s: dropped %s", bedrock_model, ",".join(dropped))
    value = ",".join(kept)
    if isinstance(scoped, list):
        replaced: Any = [_with_beta_header(entry, value) for entry in scoped]
    else:
        replaced = _with_beta_header(scoped, value)
    return {**kwargs, "provider_specific_header": replaced}


class BetaFlagFilter(CustomLogger):
    """LiteLLM calls the hook for every deployment call, fallbacks included."""

    async def async_pre_call_deployment_hook(
        self, kwargs: dict[str, Any], call_type: Any
    ) -> dict[str, Any] | None:
        try:
            return filter_request(kwargs)
        except Exception:  # a hook must never fail the request it only narrows
            log.exception("anthropic-beta filter failed; flags passed on unchanged")
            return None


beta_filter = BetaFlagFilter()
