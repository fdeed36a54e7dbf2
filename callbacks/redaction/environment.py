"""The redactor's settings, read from the environment once, when the redactor is built.

    LLMOPS_REDACT_EXTRA_PATTERNS  a JSON list; each item a regex string (kind "custom") or
                                  {"kind": "name", "pattern": "regex"}; a group named
                                  `secret` limits what is replaced. Each is searched
                                  through every string: keep it simple and start it with
                                  a literal, so it stays fast.
    LLMOPS_REDACT_ALLOW           a JSON list of strings never redacted (a finding equal to
                                  one of them is kept).

The values of this process's own environment variables whose names say they are secret
(LITELLM_MASTER_KEY, AWS_SECRET_ACCESS_KEY, LANGFUSE_SECRET_KEY, ...; 8 characters or
more) are redacted wherever they appear, the placeholder naming the variable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .assignments import is_placeholder, name_kind

__all__ = [
    "ALLOW_VARIABLE",
    "CUSTOM",
    "EXTRA_PATTERNS_VARIABLE",
    "ExtraPattern",
    "RedactionConfigError",
    "known_secrets",
    "parse_allow_list",
    "parse_extra_patterns",
]

EXTRA_PATTERNS_VARIABLE = "LLMOPS_REDACT_EXTRA_PATTERNS"
ALLOW_VARIABLE = "LLMOPS_REDACT_ALLOW"
CUSTOM = "custom"
MIN_KNOWN_SECRET_LENGTH = 8


class RedactionConfigError(ValueError):
    """An LLMOPS_REDACT_* variable cannot be used; the message names it and the fix."""


@dataclass(frozen=True)
class ExtraPattern:
    kind: str
    pattern: re.Pattern[str]


_KIND = re.compile(r"[a-z][a-z0-9_]*")


def parse_extra_patterns(raw: str) -> list[ExtraPattern]:
    """LLMOPS_REDACT_EXTRA_PATTERNS: a JSON list of regexes or {"kind", "pattern"} objects."""
    patterns: list[ExtraPattern] = []
    for item in _json_list(EXTRA_PATTERNS_VARIABLE, raw):
        if isinstance(item, str):
            kind, source = CUSTOM, item
        elif isinstance(item, dict) and set(item) == {"kind", "pattern"}:
            kind, source = item["kind"], item["pattern"]
        else:
            raise RedactionConfigError(
                f"{EXTRA_PATTERNS_VARIABLE}: each item must be a regex string or "
                f'{{"kind": "...", "pattern": "..."}}, not {type(item).__name__}'
            )
        if not isinstance(kind, str) or not _KIND.fullmatch(kind):
            raise RedactionConfigError(
                f"{EXTRA_PATTERNS_VARIABLE}: kind {kind!r} must be lower-case letters, "
                "digits and underscores"
            )
        try:
            patterns.append(ExtraPattern(kind, re.compile(source)))
        except (re.error, TypeError) as error:
            raise RedactionConfigError(
                f"{EXTRA_PATTERNS_VARIABLE}: pattern {source!r} is not a valid regex: {error}"
            ) from None
    return patterns


def parse_allow_list(raw: str) -> list[str]:
    """LLMOPS_REDACT_ALLOW: a JSON list of strings."""
    items = _json_list(ALLOW_VARIABLE, raw)
    if not all(isinstance(item, str) for item in items):
        raise RedactionConfigError(f"{ALLOW_VARIABLE}: every item must be a string")
    return items


def _json_list(variable: str, raw: str) -> list[Any]:
    if not raw.strip():
        return []
    try:
        items = json.loads(raw)
    except ValueError as error:
        raise RedactionConfigError(
            f'{variable} must be a JSON list, e.g. ["first", "second"]: {error}'
        ) from None
    if not isinstance(items, list):
        raise RedactionConfigError(f'{variable} must be a JSON list, e.g. ["first", "second"]')
    return items


def known_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """Secret values of `environ`, by kind (the variable's name in lower case)."""
    return {
        name.lower(): value
        for name, value in environ.items()
        if len(value) >= MIN_KNOWN_SECRET_LENGTH
        and name_kind(name) is not None
        and not is_placeholder(value)
    }
