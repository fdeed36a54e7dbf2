"""What `upgrade` would change, and the upgrades it refuses, decided before anything moves.

The plan compares the images the (newly pulled) compose files pin with the images the
running containers were created from, and the `.env` file with this kit version's variable
table. Langfuse migrates its databases forward one major version at a time and offers no
way back but a restore, so a plan that skips a major (4 -> 6) or goes back one is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .errors import KitError

LANGFUSE_SERVICES = ("langfuse-web", "langfuse-worker")
_VERSION_TAG = re.compile(r"v?(?P<major>\d+)(?:\.\d+)*(?:[-+].*)?")


class UpgradeRefused(KitError):
    """The upgrade would break the stack; nothing was changed."""


@dataclass(frozen=True)
class ImageChange:
    service: str
    running: str | None  # None: no container yet
    pinned: str


@dataclass(frozen=True)
class Plan:
    """Everything `upgrade` shows before it asks."""

    changes: tuple[ImageChange, ...]
    new_variables: tuple[str, ...]
    unknown_variables: tuple[str, ...]

    @property
    def changed_services(self) -> list[str]:
        return [change.service for change in self.changes]


def tag_of(reference: str) -> str | None:
    """The tag of an image reference (None for a digest-only or untagged one)."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def major_of(reference: str) -> int | None:
    """The major version of a reference's tag, None when the tag is not a version."""
    tag = tag_of(reference)
    found = _VERSION_TAG.fullmatch(tag) if tag else None
    return int(found["major"]) if found else None


def make_plan(
    pinned: Mapping[str, str],
    running: Mapping[str, str],
    env_names: Iterable[str],
    known_names: Iterable[str],
) -> Plan:
    """`pinned` and `running` map services to image references; names are `.env` keys."""
    changes = tuple(
        ImageChange(service, running.get(service), image)
        for service, image in sorted(pinned.items())
        if running.get(service) != image
    )
    in_env, known = set(env_names), set(known_names)
    return Plan(changes, tuple(sorted(known - in_env)), tuple(sorted(in_env - known)))


def refusals(plan: Plan) -> list[str]:
    """Why the plan must not run (empty when it may): a skipped or reversed Langfuse major."""
    reasons = []
    for change in plan.changes:
        if change.service not in LANGFUSE_SERVICES or change.running is None:
            continue
        before, after = major_of(change.running), major_of(change.pinned)
        if before is None or after is None:
            continue
        if after > before + 1:
            reasons.append(
                f"{change.service} would go from Langfuse v{before} to v{after}, skipping "
                f"v{before + 1}: Langfuse migrates one major version at a time"
            )
        elif after < before:
            reasons.append(
                f"{change.service} would go back from Langfuse v{before} to v{after}: its "
                "databases were migrated forward; only a restore goes back"
            )
    return reasons


def check(plan: Plan) -> None:
    """Raise UpgradeRefused with every reason, and the way through, when the plan may not run."""
    reasons = refusals(plan)
    if reasons:
        raise UpgradeRefused(
            "; ".join(reasons),
            fix="Upgrade through each major: check out the kit version that pins the next "
            "Langfuse major, `upgrade`, then the next; or go back with `restore`.",
        )


def dependency_order(depends_on: Mapping[str, Sequence[str]]) -> list[str]:
    """Services so that each comes after what it depends on (compose's depends_on)."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(service: str) -> None:
        if service in ordered:
            return
        if service in visiting:
            raise KitError(f"the compose files' depends_on form a cycle through {service}")
        visiting.add(service)
        for needed in sorted(depends_on.get(service, ())):
            visit(needed)
        visiting.discard(service)
        ordered.append(service)

    for service in sorted(depends_on):
        visit(service)
    return ordered


def describe(plan: Plan) -> list[str]:
    """The plan as lines for the user."""
    lines = [
        f"{c.service}: {c.running or '(not created)'} -> {c.pinned}" for c in plan.changes
    ] or ["images: every container already runs what the compose files pin"]
    if plan.new_variables:
        lines.append(f".env: new in this kit (defaults apply): {', '.join(plan.new_variables)}")
    if plan.unknown_variables:
        lines.append(f".env: not used by this kit version: {', '.join(plan.unknown_variables)}")
    return lines
