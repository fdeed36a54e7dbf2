"""Add a model group to litellm_config.yml as text, so its comments and layout survive.

A YAML round trip through PyYAML would drop every comment the file lives by; the edits here
are line insertions at places the repository's file marks (`model_list:`, `fallbacks:`,
`model_group_alias:`). The caller validates the result with LiteLLM before writing it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ConfigError
from .model_catalog import ClaudeModel

PROFILE_PLACEHOLDER = "${BEDROCK_PROFILE_PREFIX}"
ENTRY_INDENT = "  "


def route_block(model: ClaudeModel, limits: Mapping[str, Any]) -> list[str]:
    """The model_list entry of `model`, its limits those the cost map gives its profile."""
    max_input, max_output = int(limits["max_input_tokens"]), int(limits["max_output_tokens"])
    return [
        f"  - model_name: {model.group}",
        "    litellm_params:",
        f"      model: bedrock/converse/{PROFILE_PLACEHOLDER}.{model.base_id}",
        "      aws_region_name: os.environ/AWS_REGION",
        "    model_info:",
        f"      id: {model.group}",
        f"      max_input_tokens: {max_input}",
        f"      max_output_tokens: {max_output}",
        f"      max_tokens: {max_output}",
        "",
    ]


def _top_level_key(lines: Sequence[str], key: str) -> int:
    for number, line in enumerate(lines):
        if line.rstrip() == f"{key}:":
            return number
    raise ConfigError(f"litellm_config.yml has no top-level `{key}:`", fix="Restore it.")


def _nested_key(lines: Sequence[str], key: str) -> int | None:
    for number, line in enumerate(lines):
        if line.rstrip() == f"{ENTRY_INDENT}{key}:":
            return number
    return None


def _section_end(lines: Sequence[str], start: int) -> int:
    """The line after the last entry of the top-level section starting at `start`
    (trailing comments and blank lines belong to what follows)."""
    end = start + 1
    last_entry = start
    while end < len(lines) and (not lines[end] or lines[end][0] in " #"):
        if lines[end].startswith(ENTRY_INDENT) and not lines[end].lstrip().startswith("#"):
            last_entry = end
        end += 1
    return last_entry + 1


def add_route(
    text: str,
    model: ClaudeModel,
    limits: Mapping[str, Any],
    fallbacks: Sequence[str],
    *,
    newest_of_tier: bool,
) -> str:
    """`text` with `model`'s group, its fallbacks, and (if it is the newest of its tier) the
    tier name pointing at it. The newest goes first in model_list, others last."""
    lines = text.splitlines()
    block = route_block(model, limits)
    start = _top_level_key(lines, "model_list")
    if newest_of_tier:
        at = start + 1
        while lines[at].lstrip().startswith("#"):  # the first entries' heading comment
            at += 1
    else:
        at = _section_end(lines, start)
        block = ["", *block[:-1]]
    lines[at:at] = block
    if fallbacks:
        _set_entry(lines, "fallbacks", f"- {model.group}:", f"[{', '.join(fallbacks)}]")
        _describe_chain(lines, [model.group, *fallbacks])
    # The tier name follows its newest group, with the same chain (LiteLLM looks chains up
    # by the name asked for).
    if newest_of_tier and _nested_key(lines, "model_group_alias") is not None:
        _set_entry(
            lines, "model_group_alias", f"{model.tier}:", f"{{model: {model.group}, hidden: true}}"
        )
        if fallbacks:
            _set_entry(lines, "fallbacks", f"- {model.tier}:", f"[{', '.join(fallbacks)}]")
    return "\n".join(lines) + "\n"


def _describe_chain(lines: list[str], chain: Sequence[str]) -> None:
    """Add the chain to the repository file's comment table of chains, when it has one."""
    heading = next(
        (n for n, line in enumerate(lines) if line.startswith("  # Fallback chains")), None
    )
    if heading is None:
        return
    first = next(
        (n for n in range(heading, len(lines)) if lines[n].startswith("  #   claude-")), None
    )
    if first is not None:
        lines.insert(first, "  #   " + " -> ".join(chain))


def _set_entry(lines: list[str], section: str, key: str, value: str) -> None:
    """Replace the `key value` line of a router_settings section, or add it first."""
    start = _nested_key(lines, section)
    if start is None:
        raise ConfigError(
            f"litellm_config.yml has no router_settings.{section}",
            fix="Restore it from the repository's file.",
        )
    entry = f"    {key} {value}"
    for number in range(start + 1, len(lines)):
        if not lines[number].startswith("    "):
            break
        if lines[number].lstrip().startswith(f"{key} "):
            lines[number] = entry
            return
    lines.insert(start + 1, entry)
