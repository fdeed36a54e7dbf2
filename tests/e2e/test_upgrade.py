"""`upgrade` on a real engine, from one set of pinned stand-in tags to the next.

The stand-in image under three version tags plays three kit versions: the stack starts on
:4.59.0, upgrades to :4.60.0 (every service recreated, the end-to-end `test` passes), then
to :4.61.0 whose ClickHouse never becomes healthy: the command stops there, names it, leaves
the services after it untouched and prints the rollback, which the test then follows with the
real backup the upgrade took (the first upgrade's backup step is a stand-in).

Where the pins live: a real kit pins images in compose/*.yml, so checking out another kit
version swaps compose files while `.env` stays the user's; and `restore` writes back the
archive's `.env`. The test keeps that split: the pins (and the broken healthcheck of
:4.61.0) are in a compose file of their own, `kit-pins.yml`, listed once in
LLMOPS_EXTRA_COMPOSE_FILES; "pulling" or "checking out" a kit version rewrites that file
and never `.env`, so the restored `.env` cannot bring back a pin by accident.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from llmops_kit import backup_stores, console, settings
from llmops_kit.commands import test_script
from llmops_kit.commands import upgrade as upgrade_command
from llmops_kit.errors import KitError
from tests.e2e.stack import OVERLAY, StackEnv, write_stack_env
from tests.e2e.test_bundle import docker
from tests.e2e.test_lifecycle import START_TIMEOUT_S, manage
from tests.e2e.testbed.image import HostPaths

REPOSITORY = "llmops-upgrade-e2e"
PINS_NAME = "kit-pins.yml"
PINNED_SERVICES = sorted(yaml.safe_load(OVERLAY.read_text())["services"])
NEVER_HEALTHY = {
    "services": {
        "clickhouse": {
            "healthcheck": {
                "test": ["CMD", "false"],
                "interval": "1s",
                "retries": 1,
                "start_period": "0s",
            }
        }
    }
}


@pytest.fixture(scope="module")
def versions(testbed_image: str) -> Iterator[dict[str, str]]:
    tags = {v: f"{REPOSITORY}:{v}" for v in ("4.59.0", "4.60.0", "4.61.0")}
    for tag in tags.values():
        docker("tag", testbed_image, tag).check_returncode()
    yield tags
    for tag in tags.values():
        docker("rmi", tag)


@pytest.fixture(scope="module")
def old_stack(
    versions: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackEnv]:
    stack = write_stack_env(
        tmp_path_factory.mktemp("upgrade"), versions["4.59.0"], HostPaths.current()
    )
    pin(stack, versions["4.59.0"])
    values = settings.read_env_file(stack.env_file)
    values["LLMOPS_EXTRA_COMPOSE_FILES"] += f":{pins_file(stack)}"
    settings.write_env_file(stack.env_file, settings.render_env(values))
    started = manage(stack, "start", "--timeout", str(START_TIMEOUT_S))
    try:
        assert started.code == 0, started.stderr
        yield stack
    finally:
        stack.project.down(volumes=True)


@pytest.fixture(autouse=True)
def settings_from_env_file_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process commands read the process environment first; only the .env may count."""
    for name in settings.BY_NAME:
        monkeypatch.delenv(name, raising=False)


def pins_file(stack: StackEnv) -> Path:
    return stack.env_file.parent / PINS_NAME


def pin(stack: StackEnv, tag: str, changes: dict | None = None) -> None:
    """What checking out a kit version does: its compose files pin other images (and may
    change a service otherwise, as `changes` does); `.env` is left alone."""
    services: dict[str, dict] = {name: {"image": tag} for name in PINNED_SERVICES}
    for name, spec in (changes or {}).get("services", {}).items():
        services[name] = {**services[name], **spec}
    pins_file(stack).write_text(yaml.safe_dump({"services": services}))


def psql(stack: StackEnv, sql: str) -> str:
    return stack.project.exec("postgres", ["psql", "-At", "-U", "postgres", "-c", sql]).strip()


def printed_restore(printed: str) -> list[str]:
    """The arguments of the printed `restore` command, without its --env-file (manage adds
    the stack's)."""
    line = next(line for line in printed.splitlines() if "manage_langfuse.py restore" in line)
    words = shlex.split(line.split("manage_langfuse.py", 1)[1])
    return words[: words.index("--env-file")]


def images_running(stack: StackEnv) -> dict[str, str]:
    return {c.service: c.image for c in stack.project.ps()}


def first_model(stack: StackEnv) -> str:
    return yaml.safe_load(stack.config_file.read_text())["model_list"][0]["model_name"]


def test_an_upgrade_recreates_every_changed_service_and_passes_the_test(
    old_stack: StackEnv, versions: dict[str, str], tmp_path: Path
) -> None:
    backups: list[Path] = []

    def backup(env_file: Path) -> Path:
        backups.append(tmp_path / "before-4.60.0.tar")
        return backups[-1]

    pin(old_stack, versions["4.60.0"])
    code = upgrade_command.run(
        old_stack.env_file,
        yes=True,
        timeout=START_TIMEOUT_S,
        backup=backup,
        test=lambda env: test_script.run(env, models=first_model(old_stack), timeout=90),
    )
    assert code == console.EXIT_OK
    assert len(backups) == 1
    assert set(images_running(old_stack).values()) == {versions["4.60.0"]}
    assert all(c.ready for c in old_stack.project.ps())


def test_a_service_that_never_gets_healthy_stops_the_upgrade_and_its_backup_rolls_it_back(
    old_stack: StackEnv,
    versions: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scratch = tmp_path / "scratch"
    psql(old_stack, "CREATE TABLE kit_probe (v text); INSERT INTO kit_probe VALUES ('before')")
    backup_stores.clickhouse_query(old_stack.project, "CREATE TABLE kit_probe (v TEXT)", scratch)
    backup_stores.clickhouse_query(
        old_stack.project, "INSERT INTO kit_probe VALUES ('before')", scratch
    )
    pin(old_stack, versions["4.61.0"], NEVER_HEALTHY)
    with pytest.raises(KitError) as stopped:
        upgrade_command.run(old_stack.env_file, yes=True, timeout=20, test=None)
    assert stopped.value.message.startswith("upgrade stopped: not healthy after 20 s: clickhouse")
    printed = capsys.readouterr().err
    assert f"it pinned: {versions['4.60.0']}" in printed
    running = images_running(old_stack)
    assert running["clickhouse"] == versions["4.61.0"]
    # Recreated in dependency order, the Langfuse services come after ClickHouse: untouched.
    assert running["langfuse-web"] == versions["4.60.0"]
    assert running["langfuse-worker"] == versions["4.60.0"]

    # The printed rollback: the previous kit version's pins, then its `restore` command.
    pin(old_stack, versions["4.60.0"])
    restored = manage(old_stack, *printed_restore(printed))
    assert restored.code == 0, restored.stderr
    assert set(images_running(old_stack).values()) == {versions["4.60.0"]}
    assert all(c.ready for c in old_stack.project.ps())
    assert psql(old_stack, "SELECT v FROM kit_probe") == "before"
    query = "SELECT v FROM kit_probe"
    assert backup_stores.clickhouse_query(old_stack.project, query, scratch) == "before"
