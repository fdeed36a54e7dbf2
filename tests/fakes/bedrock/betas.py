"""The `anthropic_beta` flags Bedrock's Claude models accept; any other flag is a 400.

Bedrock reads the flags from the request body (`additionalModelRequestFields.anthropic_beta`
for Converse, `anthropic_beta` for InvokeModel) and, like the stand-in, from an
`anthropic-beta` header if one is sent. One unknown flag fails the whole call with
`ValidationException: The model returned the following errors: invalid beta flag`
(the wording users of Claude Code through LiteLLM report, BerriAI/litellm#19875).

Where the list comes from (December 2026):
- AWS, "Anthropic Claude Messages API" request parameters (Bedrock user guide): the
  documented `anthropic_beta` values, as quoted in BerriAI/litellm#19877: computer-use
  (2024-10-22, 2025-01-24), token-efficient-tools-2025-02-19,
  interleaved-thinking-2025-05-14, output-128k-2025-02-19, dev-full-thinking-2025-05-14,
  context-1m-2025-08-07, context-management-2025-06-27, effort-2025-11-24,
  tool-search-tool-2025-10-19, tool-examples-2025-10-29;
- flags LiteLLM 1.106.2 itself sends to Bedrock Converse (its bundled
  anthropic_beta_headers_config.json, `bedrock_converse`, non-null values):
  computer-use-2025-11-24, fine-grained-tool-streaming-2025-05-14 (LiteLLM adds it on its
  own for eager tool input streaming), structured-outputs-2025-11-13.
Flags only the first-party API knows (`claude-code-20250219`, `prompt-caching-scope-*`,
`advanced-tool-use-*`, `mcp-*`, `files-api-*`, ...) are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import errors
from .errors import Rejected

ACCEPTED_BETA_FLAGS = frozenset(
    {
        "computer-use-2024-10-22",
        "computer-use-2025-01-24",
        "computer-use-2025-11-24",
        "token-efficient-tools-2025-02-19",
        "interleaved-thinking-2025-05-14",
        "output-128k-2025-02-19",
        "dev-full-thinking-2025-05-14",
        "context-1m-2025-08-07",
        "context-management-2025-06-27",
        "effort-2025-11-24",
        "tool-search-tool-2025-10-19",
        "tool-examples-2025-10-29",
        "fine-grained-tool-streaming-2025-05-14",
        "structured-outputs-2025-11-13",
    }
)
INVALID_BETA_FLAG = errors.validation("The model returned the following errors: invalid beta flag")


def requested_flags(request: Mapping[str, Any], header: str | None) -> list[str]:
    """Every flag the call asks for: the body's list, then the header's comma list."""
    fields = request.get("additionalModelRequestFields") or {}
    body_flags = fields.get("anthropic_beta") or []
    if isinstance(body_flags, str):
        body_flags = [body_flags]
    header_flags = [flag.strip() for flag in (header or "").split(",") if flag.strip()]
    return [*body_flags, *header_flags]


def check_flags(flags: list[str]) -> None:
    if any(flag not in ACCEPTED_BETA_FLAGS for flag in flags):
        raise Rejected(INVALID_BETA_FLAG)
