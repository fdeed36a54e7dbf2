"""`proxy`: run the proxy natively in the foreground (llmops_kit/proxy.py), never without
a master key."""

from __future__ import annotations

from pathlib import Path

from .. import proxy, settings
from ..errors import KitError


def run(env_file: Path, *, config: Path, host: str, port: int) -> int:
    resolved = settings.load(env_file)
    if not resolved.get("LITELLM_MASTER_KEY"):
        raise KitError(
            "LITELLM_MASTER_KEY is not set: the proxy would accept anyone",
            fix="Run `python manage_langfuse.py init`, or export LITELLM_MASTER_KEY=sk-...",
        )
    return proxy.run(resolved, config=config, host=host, port=port)
