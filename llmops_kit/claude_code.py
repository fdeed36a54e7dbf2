"""Claude Code through the proxy: the environment block `start` prints.

Claude Code (2.1.x) with only ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN set sends the ids
below: `claude-opus-5-5` for its main model and for its background work (with a custom base
URL it uses the main model for both), and the tier's id for `--model sonnet|haiku` and
subagents that ask for a tier (captured from the real CLI:
tests/integration/data/claude_code_requests.json). Model variables are printed only for
a tier whose id the config does not serve, pointing at its newest configured group, and
ANTHROPIC_MODEL when the config has no opus at all.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from .model_catalog import TIERS, newest_by_tier, parse_base_id

TIER_IDS = {"opus": "claude-opus-5-5", "sonnet": "claude-sonnet-5-5", "haiku": "claude-haiku-5-5"}


def model_variables(
    routes: Sequence[tuple[str, str]], served: Collection[str]
) -> list[tuple[str, str]]:
    """(variable, group) for each tier Claude Code would ask for by a name not `served`;
    `routes` are (group, Bedrock id) pairs."""
    by_model = {parse_base_id(model_id): group for group, model_id in routes}
    newest = newest_by_tier(model for model in by_model if model is not None)
    variables = [
        (f"ANTHROPIC_DEFAULT_{tier.upper()}_MODEL", by_model[newest[tier]])
        for tier in TIERS
        if TIER_IDS[tier] not in served and tier in newest
    ]
    if TIER_IDS["opus"] not in served and "opus" not in newest:
        # No opus group: Claude Code's default (an opus) needs a main model that exists.
        main = next((newest[t] for t in TIERS[1:] if t in newest), None)
        if main is not None:
            variables.insert(0, ("ANTHROPIC_MODEL", by_model[main]))
    return variables


def environment_block(
    proxy_url: str, token_command: str, variables: Sequence[tuple[str, str]]
) -> list[str]:
    """The shell lines to paste; the token is read from `.env` by `token_command`, never shown."""
    lines = [
        f"export ANTHROPIC_BASE_URL={proxy_url}",
        f'export ANTHROPIC_AUTH_TOKEN="$({token_command})"',
    ]
    return lines + [f"export {name}={group}" for name, group in variables]
