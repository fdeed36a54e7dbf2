"""`upgrade [--yes]`: move a running stack to what a newly pulled kit version pins.

Order, each step only when the one before succeeded: show the plan (llmops_kit/upgrade_plan.py)
and refuse a skipped Langfuse major; ask; back up (llmops_kit/backup.py); pull the images not
on this machine yet; recreate each changed service after what it depends on and wait for its
health (Langfuse migrates as it starts); run the end-to-end `test`. Whatever fails after the
backup ends with the exact commands that restore the stack as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import bundle_load, console, image_pull, service_health, settings, upgrade_plan
from ..backup import create_backup
from ..compose import ComposeProject
from ..errors import HealthTimeout, KitError
from . import open_project, shown_path
from . import test_script as end_to_end
from .down import confirmed

Backup = Callable[[Path], Path]


def depends_on(model: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each service's dependencies, from the resolved compose model."""
    return {
        name: sorted(spec.get("depends_on") or {})
        for name, spec in model.get("services", {}).items()
    }


def make_plan(project: ComposeProject, env_file: Path) -> upgrade_plan.Plan:
    running = {c.service: c.image for c in project.ps() if c.image}
    return upgrade_plan.make_plan(
        project.images(), running, settings.read_env_file(env_file), settings.BY_NAME
    )


def rollback_lines(env_file: Path, archive: Path, running: Sequence[str]) -> list[str]:
    """The exact commands that bring back what ran before, from the backup just taken."""
    env = shown_path(env_file)
    return [
        "to roll back to what ran before the upgrade:",
        "  git checkout <the kit version you came from>   # it pinned: " + ", ".join(running),
        f"  python manage_langfuse.py restore {shown_path(archive)} --yes --env-file {env}",
    ]


def _pull_missing(project: ComposeProject, services: Sequence[str]) -> None:
    images = project.images()
    missing = [s for s in services if bundle_load.image_id(images[s]) is None]
    if missing:
        console.info(f"pulling {', '.join(missing)}")
        with image_pull.explained(project):
            project.pull(missing)


def recreate(project: ComposeProject, services: Sequence[str], timeout: float) -> None:
    """Recreate `services` one at a time after their dependencies, each healthy before the next."""
    order = upgrade_plan.dependency_order(depends_on(project.config()))
    for service in (s for s in order if s in services):
        console.info(f"recreating {service}")
        project.up([service], no_deps=True, force_recreate=True)
        service_health.wait_healthy(project, [service], timeout=timeout)


def run(
    env_file: Path,
    *,
    yes: bool,
    timeout: float,
    backup: Backup | None = None,
    test: Callable[[Path], int] | None = None,
) -> int:
    project = open_project(env_file)
    plan = make_plan(project, env_file)
    for line in upgrade_plan.describe(plan):
        console.info(line)
    upgrade_plan.check(plan)
    if not plan.changes:
        console.success("nothing to upgrade")
        return console.EXIT_OK
    if not yes and not confirmed("Back up, then upgrade these services?"):
        console.info("nothing was changed; pass --yes to upgrade without the question")
        return console.EXIT_FAILED
    archive = (backup or create_backup)(env_file)
    console.success(f"backup written: {shown_path(archive)}")
    before = sorted({c.running for c in plan.changes if c.running})
    try:
        _pull_missing(project, plan.changed_services)
        recreate(project, plan.changed_services, timeout)
        tested = (test or _end_to_end_test)(env_file)
        if tested != console.EXIT_OK:
            raise KitError("the end-to-end `test` failed after the upgrade (see above)")
    except HealthTimeout as error:
        _print_rollback(env_file, archive, before)
        raise KitError(
            f"upgrade stopped: {error.message.splitlines()[0]}", fix=error.fix
        ) from error
    except KitError:
        _print_rollback(env_file, archive, before)
        raise
    console.success(f"upgraded {', '.join(plan.changed_services)}; the end-to-end test passed")
    _print_rollback(env_file, archive, before)
    return console.EXIT_OK


def _end_to_end_test(env_file: Path) -> int:
    return end_to_end.run(env_file, models=None, timeout=120.0)


def _print_rollback(env_file: Path, archive: Path, before: Sequence[str]) -> None:
    for line in rollback_lines(env_file, archive, before):
        console.info(line)
