"""Who calls the proxy: clients should use developer keys, never the master key.

The master key reaches every route (admin, pass-throughs, `GET /health`); developer keys from
the keys file reach only the inference routes (callbacks/route_policy.py). A client
configured with the master key keeps all of that on a laptop, and its traces carry no
developer. The proxy still accepts it (the admin's own checks use it, and without a keys file
it is the only key), so doctor looks at recent traces instead: every request made with it
carries the master key's alias in its trace metadata (`key_alias`, callbacks/auth.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from ..errors import KitError
from ..langfuse_api import Observation
from ..litellm_config import callbacks_module
from .context import DoctorContext
from .findings import Finding, Verdicts
from .langfuse import client
from .registry import CheckGroup

group = CheckGroup("access", "Access")

RECENT_DAYS = 7
RECENT_OBSERVATIONS = 200
# Sessions of the kit's own end-to-end check (tests/test_litellm_langfuse.py): it is the
# admin's, and runs with the master key by design.
KIT_CHECK_SESSION_PREFIX = "llmops-test-"
SHOWN_CLIENTS = 3


def master_key_alias() -> str:
    return str(callbacks_module("auth").MASTER_KEY_ALIAS)


def _client(observation: Observation) -> str:
    agent = str(observation.metadata.get("user_agent") or "").strip()
    return agent.split(" ", 1)[0].split("/", 1)[0][:40] or "unknown client"


def master_key_requests(observations: list[Observation], alias: str) -> dict[str, int]:
    """Requests made with the master key by clients, counted per client (one per trace)."""
    traces: dict[str, str] = {}
    for observation in observations:
        if observation.metadata.get("key_alias") != alias:
            continue
        if observation.session_id.startswith(KIT_CHECK_SESSION_PREFIX):
            continue
        traces.setdefault(observation.trace_id, _client(observation))
    return dict(Counter(traces.values()))


@group.check(
    "access.master_key_clients",
    summary=f"no client used the master key in the last {RECENT_DAYS} days (traces whose "
    "`key_alias` is the master key's; the kit's own `test` excepted): WARN otherwise",
    remedy="give each developer a key in the keys file (keys.example.yml, LLMOPS_KEYS_FILE), "
    "then replace LITELLM_MASTER_KEY in `.env` and recreate the proxy",
    requires=("langfuse.auth",),
)
def master_key_clients(ctx: DoctorContext, result: Verdicts) -> Finding:
    since = datetime.now(UTC) - timedelta(days=RECENT_DAYS)
    try:
        with client(ctx) as api:
            recent = api.observations(since=since, with_metadata=True, limit=RECENT_OBSERVATIONS)
    except KitError as error:
        return result.skip(f"cannot read recent traces ({error.message})")
    counts = master_key_requests(recent, master_key_alias())
    if not counts:
        return result.ok(
            f"none of the last {len(recent)} observations ({RECENT_DAYS} days) came from a "
            "client using the master key"
        )
    clients = sorted(counts, key=lambda name: -counts[name])
    shown = ", ".join(f"{name} ({counts[name]})" for name in clients[:SHOWN_CLIENTS])
    return result.warn(
        f"{sum(counts.values())} recent request(s) used the master key: {shown}. It reaches "
        "every admin route and pass-through, and its traces name no developer",
        "Give each developer their own key in the keys file (keys.example.yml; "
        f"LLMOPS_KEYS_FILE in {ctx.options.env_path}), then replace LITELLM_MASTER_KEY in "
        f"{ctx.options.env_path} with a new random value and recreate the proxy "
        f"({ctx.kit_command('update-config')}, or restart the native proxy)",
    )
