"""`upgrade`: the plan it shows, the upgrades it refuses, the order it recreates services in.

The CLI cases run against the recording docker stand-in: a refused upgrade must neither back
up nor touch a container.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmops_kit import settings, upgrade_plan
from llmops_kit.commands import upgrade as upgrade_command
from tests.unit.cli_harness import SERVICES, Kit, make_kit, ps_line

WEB = "docker.langfuse.com/langfuse/langfuse"
WORKER = "docker.langfuse.com/langfuse/langfuse-worker"
PINNED = {
    "langfuse-web": f"{WEB}:4.60.1",
    "langfuse-worker": f"{WORKER}:4.60.1",
    "postgres": "postgres:17.11",
    "litellm": "ghcr.io/berriai/litellm:v1.106.12",
}
RUNNING = {
    "langfuse-web": f"{WEB}:4.59.0",
    "langfuse-worker": f"{WORKER}:4.59.0",
    "postgres": "postgres:17.11",
    "litellm": "ghcr.io/berriai/litellm:v1.106.2",
}


def plan(pinned: dict[str, str], running: dict[str, str] = RUNNING) -> upgrade_plan.Plan:
    return upgrade_plan.make_plan(pinned, running, ["A", "B"], ["B", "C"])


def test_the_plan_lists_each_changed_image_and_the_env_differences() -> None:
    made = plan(PINNED)
    assert made.changed_services == ["langfuse-web", "langfuse-worker", "litellm"]
    assert (made.new_variables, made.unknown_variables) == (("C",), ("A",))
    assert upgrade_plan.describe(made) == [
        f"langfuse-web: {WEB}:4.59.0 -> {WEB}:4.60.1",
        f"langfuse-worker: {WORKER}:4.59.0 -> {WORKER}:4.60.1",
        "litellm: ghcr.io/berriai/litellm:v1.106.2 -> ghcr.io/berriai/litellm:v1.106.12",
        ".env: new in this kit (defaults apply): C",
        ".env: not used by this kit version: A",
    ]
    assert upgrade_plan.refusals(made) == []


def test_the_next_langfuse_major_is_allowed() -> None:
    assert upgrade_plan.refusals(plan({**PINNED, "langfuse-web": f"{WEB}:5.0.0"})) == []


def test_skipping_a_langfuse_major_is_refused_with_the_way_through() -> None:
    skipping = plan({**PINNED, "langfuse-web": f"{WEB}:6.1.0", "langfuse-worker": f"{WORKER}:6"})
    with pytest.raises(upgrade_plan.UpgradeRefused) as refused:
        upgrade_plan.check(skipping)
    assert refused.value.message == (
        "langfuse-web would go from Langfuse v4 to v6, skipping v5: Langfuse migrates one "
        "major version at a time; langfuse-worker would go from Langfuse v4 to v6, skipping "
        "v5: Langfuse migrates one major version at a time"
    )
    assert "the next Langfuse major" in (refused.value.fix or "")


def test_going_back_a_langfuse_major_is_refused() -> None:
    back = plan({**PINNED, "langfuse-web": f"{WEB}:3.120.0"})
    assert upgrade_plan.refusals(back) == [
        "langfuse-web would go back from Langfuse v4 to v3: its databases were migrated "
        "forward; only a restore goes back"
    ]


@pytest.mark.parametrize(
    ("reference", "major"),
    [
        (f"{WEB}:4.59.0", 4),
        ("ghcr.io/berriai/litellm:v1.106.2", 1),
        ("localhost:5000/langfuse:6", 6),
        ("llmops-testbed:930e457128d6", None),
        ("cgr.dev/chainguard/minio@sha256:" + "ab" * 32, None),
        ("postgres", None),
    ],
)
def test_major_versions_come_from_the_tag_only(reference: str, major: int | None) -> None:
    assert upgrade_plan.major_of(reference) == major


def test_services_are_recreated_after_what_they_depend_on() -> None:
    depends = {
        "langfuse-web": ["clickhouse", "postgres"],
        "langfuse-worker": ["clickhouse", "postgres"],
        "litellm": ["litellm-postgres"],
        "clickhouse": [],
        "postgres": [],
        "litellm-postgres": [],
    }
    order = upgrade_plan.dependency_order(depends)
    for service, needs in depends.items():
        assert all(order.index(n) < order.index(service) for n in needs)
    assert sorted(order) == sorted(depends)


def test_a_dependency_cycle_is_named() -> None:
    with pytest.raises(upgrade_plan.KitError, match="cycle"):
        upgrade_plan.dependency_order({"a": ["b"], "b": ["a"]})


def test_the_rollback_names_the_backup_and_the_images_that_ran(tmp_path: Path) -> None:
    lines = upgrade_command.rollback_lines(
        tmp_path / ".env", tmp_path / "backup.tar", [f"{WEB}:4.59.0"]
    )
    assert lines[1].endswith(f"it pinned: {WEB}:4.59.0")
    assert lines[2] == (
        f"  python manage_langfuse.py restore {tmp_path / 'backup.tar'} --yes "
        f"--env-file {tmp_path / '.env'}"
    )


# -- the command on the docker stand-in


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    kit = make_kit(tmp_path, monkeypatch)
    kit.set(COMPOSE_PROJECT_NAME="kit")
    settings.init_env(kit.env_file)
    running = {**RUNNING, **{s: "redis:7.4.11" for s in SERVICES if s not in RUNNING}}
    ps = "\n".join(json.dumps({**json.loads(ps_line(s)), "Image": running[s]}) for s in SERVICES)
    kit.docker.reply("compose", "ps", stdout=ps + "\n")
    return kit


def pin(kit: Kit, images: dict[str, str]) -> None:
    pinned = {**images, **{s: "redis:7.4.11" for s in SERVICES if s not in images}}
    model = {"name": "kit", "services": {s: {"image": pinned[s]} for s in SERVICES}}
    kit.docker.reply("compose", "config", "--format", "json", stdout=json.dumps(model))


def test_a_refused_upgrade_neither_backs_up_nor_touches_a_container(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    backups: list[Path] = []
    monkeypatch.setattr(upgrade_command, "create_backup", backups.append)
    pin(kit, {**PINNED, "langfuse-web": f"{WEB}:6.0.0", "langfuse-worker": f"{WORKER}:6.0.0"})
    outcome = kit.run("upgrade", "--yes")
    assert outcome.code == 1
    assert f"langfuse-web: {WEB}:4.59.0 -> {WEB}:6.0.0" in outcome.stderr
    assert "Error: langfuse-web would go from Langfuse v4 to v6, skipping v5" in outcome.stderr
    assert backups == []
    assert kit.compose_calls("up") == [] and kit.compose_calls("pull") == []


def test_an_unchanged_stack_is_left_alone(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    backups: list[Path] = []
    monkeypatch.setattr(upgrade_command, "create_backup", backups.append)
    pin(kit, RUNNING)
    outcome = kit.run("upgrade", "--yes")
    assert outcome.code == 0
    assert "nothing to upgrade" in outcome.stderr
    assert backups == [] and kit.compose_calls("up") == []


def test_without_yes_a_no_changes_nothing(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    backups: list[Path] = []
    monkeypatch.setattr(upgrade_command, "create_backup", backups.append)
    pin(kit, PINNED)
    outcome = kit.run("upgrade", stdin="n\n")
    assert outcome.code == 1
    assert "nothing was changed" in outcome.stderr
    assert backups == [] and kit.compose_calls("up") == []


def test_an_upgrade_backs_up_then_recreates_after_dependencies_then_tests(
    kit: Kit, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    steps: list[str] = []

    def backup(env_file: Path) -> Path:
        steps.append("backup")
        return tmp_path / "backup.tar"

    def end_to_end(env_file: Path) -> int:
        steps.append("test")
        return 0

    monkeypatch.setattr(upgrade_command, "create_backup", backup)
    monkeypatch.setattr(upgrade_command, "_end_to_end_test", end_to_end)
    pin(kit, PINNED)
    model = {
        "name": "kit",
        "services": {s: {"image": {**RUNNING, **PINNED}.get(s, "redis:7.4.11")} for s in SERVICES},
    }
    # Against the alphabet: the web waits for the proxy here, the proxy for its database.
    model["services"]["langfuse-web"]["depends_on"] = {"postgres": {}, "litellm": {}}
    model["services"]["litellm"]["depends_on"] = {"litellm-postgres": {}}
    kit.docker.reply("compose", "config", "--format", "json", stdout=json.dumps(model))
    kit.docker.reply("compose", "config", "--services", stdout="\n".join(SERVICES) + "\n")
    kit.docker.reply("image", "inspect", stdout="sha256:" + "cd" * 32 + "\n")
    kit.docker.reply("compose", "up")
    outcome = kit.run("upgrade", "--yes")
    assert outcome.code == 0, outcome.stderr
    recreated = [call[-1] for call in kit.compose_calls("up")]
    assert recreated == ["litellm", "langfuse-web", "langfuse-worker"]
    assert all(
        "--force-recreate" in call and "--no-deps" in call for call in kit.compose_calls("up")
    )
    assert steps == ["backup", "test"]
    assert kit.compose_calls("pull") == []
    assert f"restore {tmp_path / 'backup.tar'} --yes" in outcome.stderr
