"""Every check, in the order doctor runs them, and the loop that runs them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import (
    access,
    bedrock,
    callback,
    containers,
    envfile,
    host,
    keys,
    langfuse,
    litellm,
    logs,
    models,
    network,
)
from .context import DoctorContext
from .findings import Finding, Status
from .registry import Check, CheckGroup

# The order of the issue: what is running, what it is told, what it can reach, then each part.
GROUPS: tuple[CheckGroup, ...] = (
    containers.group,
    envfile.group,
    network.group,
    langfuse.group,
    callback.group,
    litellm.group,
    access.group,
    keys.group,
    models.group,
    bedrock.group,
    host.group,
    logs.group,
)
CHECKS: tuple[Check, ...] = tuple(check for g in GROUPS for check in g.checks)


def run_checks(
    ctx: DoctorContext,
    checks: Sequence[Check] = CHECKS,
    on_finding: Callable[[Finding], None] | None = None,
) -> list[Finding]:
    """Run every check in order; each gets the findings before it (for `requires`)."""
    findings: dict[str, Finding] = {}
    for check in checks:
        finding = check.run(ctx, findings)
        findings[check.id] = finding
        if on_finding is not None:
            on_finding(finding)
    return list(findings.values())


def exit_code(findings: Sequence[Finding]) -> int:
    """0 when nothing failed (WARN and SKIP included), 1 on any FAIL."""
    return 1 if any(f.status is Status.FAIL for f in findings) else 0
