"""Checks as data: an id, what they look at, how they are usually fixed, and the function.

Each group module declares its checks with `CheckGroup.check`; `checks.py` lists the
groups in the order doctor runs them. The README's troubleshooting table is rendered from
the same declarations, so the documentation cannot drift from what doctor does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .findings import Finding, Status, Verdicts

if TYPE_CHECKING:
    from .context import DoctorContext

CheckFunction = Callable[["DoctorContext", Verdicts], Finding]

NATIVE_SKIP = "native proxy (--native): no containers here, so this does not apply"
CRASH_FIX = (
    "This is a bug in doctor, not in your setup: rerun with LLMOPS_DEBUG=1 and report the "
    "traceback."
)


@dataclass(frozen=True)
class Check:
    """One diagnosis. `requires` names checks that must pass (OK or WARN) for it to matter."""

    id: str
    summary: str
    remedy: str
    function: CheckFunction
    requires: tuple[str, ...] = ()
    docker_only: bool = False

    def run(self, ctx: DoctorContext, earlier: Mapping[str, Finding]) -> Finding:
        """The finding; never raises, whatever the check function does."""
        verdicts = Verdicts(self.id)
        if self.docker_only and ctx.native:
            return verdicts.skip(NATIVE_SKIP)
        for required in self.requires:
            before = earlier.get(required)
            if before is not None and before.status in (Status.FAIL, Status.SKIP):
                outcome = (
                    "failed; fix that first" if before.status is Status.FAIL else "was skipped"
                )
                return verdicts.skip(f"skipped because {required} {outcome}")
        try:
            return self.function(ctx, verdicts)
        except Exception as error:
            if ctx.debug:
                raise
            detail = ctx.redact(f"{type(error).__name__}: {error}")[:300]
            return verdicts.fail(f"the check itself crashed ({detail})", CRASH_FIX)


@dataclass
class CheckGroup:
    """The checks of one module, in declaration order."""

    name: str
    title: str
    checks: list[Check] = field(default_factory=list)

    def check(
        self,
        check_id: str,
        *,
        summary: str,
        remedy: str,
        requires: tuple[str, ...] = (),
        docker_only: bool = False,
    ) -> Callable[[CheckFunction], CheckFunction]:
        """Register the decorated function as a check; the function itself is unchanged."""

        def register(function: CheckFunction) -> CheckFunction:
            self.checks.append(
                Check(check_id, summary, remedy, function, tuple(requires), docker_only)
            )
            return function

        return register
