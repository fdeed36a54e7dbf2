"""The model groups against the pinned cost map: is a newer Claude model of a configured tier
offered under BEDROCK_PROFILE_PREFIX? Offline and free; `models check` also asks the account."""

from __future__ import annotations

from ..litellm_config import cost_map
from ..model_catalog import newer_models
from .context import DoctorContext
from .findings import Finding, Verdicts
from .litellm import validated_config
from .registry import CheckGroup

group = CheckGroup("models", "Models")


@group.check(
    "models.newer",
    summary="no Claude model newer than the configured groups of a tier (opus, sonnet, haiku) "
    "is offered under BEDROCK_PROFILE_PREFIX in the pinned LiteLLM's cost map",
    remedy="`python manage_langfuse.py models check` (asks the account too), then "
    "`python manage_langfuse.py models add <model>` and `update-config`",
    requires=("litellm.config",),
)
def newer(ctx: DoctorContext, result: Verdicts) -> Finding:
    validated = validated_config(ctx)
    prefix = ctx.settings.get("BEDROCK_PROFILE_PREFIX", "")
    found = newer_models([r.model_id for r in validated.routes], cost_map(), prefix)
    if found:
        named = ", ".join(f"{n.model.group} (newer than {n.configured.group})" for n in found)
        return result.warn(
            f"{prefix} offers {named}, which {validated.path.name} lacks",
            ctx.kit_command("models", "add", found[0].model.group)
            + f" (after `{ctx.kit_command('models', 'check')}` confirms the account has it)",
        )
    return result.ok(f"{validated.path.name} has the newest Claude model of each tier it uses")
