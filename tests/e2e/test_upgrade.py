"""`upgrade` on a real engine, from one set of pinned stand-in tags to the next.

The stand-in image under three version tags plays three kit versions: the stack starts on
:4.59.0, upgrades to :4.60.0 (every service recreated, the end-to-end `test` passes), then
to :4.61.0 with an overlay whose ClickHouse never becomes healthy: the command stops there,
names it, leaves the services after it untouched and prints the rollback. The backup step
is a stand-in here (backup/restore are tested on their own in test_backup_restore.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from llmops_kit import console, settings
from llmops_kit.commands import test_script
from llmops_kit.commands import upgrade as upgrade_command
from llmops_kit.errors import KitError
from tests.e2e.stack import StackEnv, write_stack_env
from tests.e2e.test_bundle import docker
from tests.e2e.test_lifecycle import START_TIMEOUT_S, manage
from tests.e2e.testbed.image import HostPaths

REPOSITORY = "llmops-upgrade-e2e"
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


def pin(stack: StackEnv, tag: str, *extra_files: Path) -> None:
    """What pulling a new kit version does to the pins: the image reference changes."""
    values = settings.read_env_file(stack.env_file)
    overlays = values["LLMOPS_EXTRA_COMPOSE_FILES"].split(":")[:1]
    values["LLMOPS_TESTBED_IMAGE"] = tag
    values["LLMOPS_EXTRA_COMPOSE_FILES"] = ":".join([*overlays, *map(str, extra_files)])
    settings.write_env_file(stack.env_file, settings.render_env(values))


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


def test_a_service_that_never_gets_healthy_stops_the_upgrade_with_the_rollback(
    old_stack: StackEnv,
    versions: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = tmp_path / "clickhouse-never-healthy.yml"
    broken.write_text(yaml.safe_dump(NEVER_HEALTHY))
    pin(old_stack, versions["4.61.0"], broken)
    archive = tmp_path / "before-4.61.0.tar"
    with pytest.raises(KitError) as stopped:
        upgrade_command.run(
            old_stack.env_file, yes=True, timeout=20, backup=lambda _: archive, test=None
        )
    assert stopped.value.message.startswith("upgrade stopped: not healthy after 20 s: clickhouse")
    printed = capsys.readouterr().err
    assert f"restore {archive} --yes" in printed
    assert f"it pinned: {versions['4.60.0']}" in printed
    running = images_running(old_stack)
    assert running["clickhouse"] == versions["4.61.0"]
    # Recreated in dependency order, the Langfuse services come after ClickHouse: untouched.
    assert running["langfuse-web"] == versions["4.60.0"]
    assert running["langfuse-worker"] == versions["4.60.0"]
