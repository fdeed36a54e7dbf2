"""Waiting for health: returns once every service is ready, or names the laggards with logs.

The project is scripted (a sequence of `ps` snapshots) and the clock is patched, so the
waits are checked without sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from llmops_kit import service_health
from llmops_kit.compose import ContainerState
from llmops_kit.errors import ComposeError, HealthTimeout


def container(service: str, state: str = "running", health_: str = "") -> ContainerState:
    return ContainerState(service, f"kit-{service}-1", state, health_, 0, ())


class ScriptedProject:
    """Answers `ps` from snapshots (the last one repeats) and `logs` from fixed lines."""

    def __init__(self, snapshots: list[list[ContainerState]], logs: Sequence[str] = ()) -> None:
        self._snapshots = snapshots
        self._logs = list(logs)
        self.log_requests: list[tuple[list[str], int | None]] = []

    def services(self) -> list[str]:
        return ["langfuse-web", "litellm"]

    def ps(self) -> list[ContainerState]:
        return self._snapshots.pop(0) if len(self._snapshots) > 1 else self._snapshots[0]

    def logs(self, services: Sequence[str], *, tail: int | None = None) -> Iterator[str]:
        self.log_requests.append((list(services), tail))
        return iter(self._logs)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def wait(project: ScriptedProject, clock: FakeClock, **options: object) -> list[ContainerState]:
    return service_health.wait_healthy(project, clock=clock, sleep=clock.sleep, **options)  # type: ignore[arg-type]


def test_returns_at_once_when_every_service_is_ready(clock: FakeClock) -> None:
    ready = [container("langfuse-web", health_="healthy"), container("litellm", health_="healthy")]
    assert wait(ScriptedProject([ready]), clock) == ready
    assert clock.sleeps == []


def test_polls_until_a_starting_service_turns_healthy(clock: FakeClock) -> None:
    starting = [container("langfuse-web", health_="starting"), container("litellm")]
    ready = [container("langfuse-web", health_="healthy"), container("litellm")]
    wait(ScriptedProject([starting, starting, ready]), clock, poll=2.0)
    assert clock.sleeps == [2.0, 2.0]


def test_waits_only_for_the_services_asked_for(clock: FakeClock) -> None:
    snapshot = [container("langfuse-web", health_="starting"), container("litellm")]
    wait(ScriptedProject([snapshot]), clock, services=["litellm"])
    assert clock.sleeps == []


def test_timeout_names_each_service_not_ready_with_its_state(clock: FakeClock) -> None:
    snapshot = [container("langfuse-web", health_="unhealthy")]
    with pytest.raises(HealthTimeout) as caught:
        wait(ScriptedProject([snapshot]), clock, timeout=10, poll=2.0)
    first_line = caught.value.message.splitlines()[0]
    assert first_line == (
        "not healthy after 10 s: langfuse-web (running (unhealthy)), litellm (not created)"
    )


def test_timeout_shows_the_last_log_lines_of_the_failing_service(clock: FakeClock) -> None:
    project = ScriptedProject(
        [[container("langfuse-web", health_="healthy"), container("litellm", "restarting")]],
        logs=["litellm-1  | yaml: line 3: mapping values are not allowed here"],
    )
    with pytest.raises(HealthTimeout) as caught:
        wait(project, clock, timeout=4)
    assert project.log_requests == [(["litellm"], service_health.LOG_LINES_ON_TIMEOUT)]
    assert caught.value.message.splitlines()[1:] == [
        "  last 20 log lines of litellm:",
        "    litellm-1  | yaml: line 3: mapping values are not allowed here",
    ]
    assert caught.value.fix is not None
    assert "logs litellm" in caught.value.fix


def test_timeout_still_reports_when_the_logs_cannot_be_read(clock: FakeClock) -> None:
    class NoLogs(ScriptedProject):
        def logs(self, services: Sequence[str], *, tail: int | None = None) -> Iterator[str]:
            raise ComposeError(["docker", "compose", "logs"], 1, "engine gone")

    with pytest.raises(HealthTimeout) as caught:
        wait(NoLogs([[container("langfuse-web", health_="healthy")]]), clock, timeout=1)
    assert "(logs unavailable: `docker compose logs` exited with 1:" in caught.value.message


def test_plain_progress_prints_a_line_per_state_change(
    clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    starting = [container("langfuse-web", health_="starting"), container("litellm")]
    ready = [container("langfuse-web", health_="healthy"), container("litellm")]
    wait(ScriptedProject([starting, starting, ready]), clock)
    assert capsys.readouterr().err.splitlines() == [
        "langfuse-web: running (starting)",
        "litellm: running",
        "langfuse-web: running (healthy)",
    ]
