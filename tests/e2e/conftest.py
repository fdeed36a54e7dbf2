"""End-to-end fixtures: the production compose files on a real Docker engine, with stand-ins.

Every test in tests/e2e is marked `e2e`. Without a reachable engine and compose v2 they are
skipped with one summary line saying how to run them; in CI (CI=true) every test fails
instead, so a missing engine never passes as green.

Modules marked `takes_stack_down` (they stop or remove the shared stack) run after the other
e2e modules, which then find the stack up instead of starting it again.

Under pytest-xdist (`--dist loadgroup`, as scripts/run_tests.sh runs them) every test using the
shared stack goes to one worker, in that order; each module with stacks of its own (own
project name, ports and image tag) is a group of its own, so those run beside the shared one.

Session fixtures:
    testbed_image   the stand-in image (tests/e2e/testbed/image.py)
    stack_env       an isolated stack (tests/e2e/stack.py); `down -v` at the end, whatever
                    happened
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmops_kit.errors import KitError
from tests.e2e import engine
from tests.e2e.stack import StackEnv, write_stack_env
from tests.e2e.testbed.image import HostPaths, ensure_image

__all__ = ["StackEnv"]

E2E_DIR = Path(__file__).resolve().parent
HOW_TO_RUN = (
    "e2e tests need a Docker engine and compose v2: run `scripts/run_tests.sh` as root "
    "(it starts Debian's dockerd), or install docker.io and start the engine"
)


@functools.cache
def engine_ready() -> bool:
    return engine.engine_reachable() and engine.compose_version() is not None


# First: pytest-xdist's own hook reads the xdist_group marks to group the tests.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)
            shares_stack = "stack_env" in getattr(item, "fixturenames", ())
            group = "shared-stack" if shares_stack else item.path.stem
            item.add_marker(pytest.mark.xdist_group(group))
    # A stable sort: file order otherwise, each module's tests together and in order.
    items.sort(key=lambda item: item.get_closest_marker("takes_stack_down") is not None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Raised here, not in a fixture, the skips fold into one summary line."""
    if engine_ready():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and no usable Docker engine: {HOW_TO_RUN}", pytrace=False)
    pytest.skip(HOW_TO_RUN)


@pytest.fixture(scope="session")
def testbed_image() -> str:
    return ensure_image()


@pytest.fixture(scope="session")
def stack_env(testbed_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackEnv]:
    stack = write_stack_env(tmp_path_factory.mktemp("stack"), testbed_image, HostPaths.current())
    try:
        yield stack
    finally:
        try:
            stack.project.down(volumes=True)
        except KitError as error:
            print(f"e2e teardown: `down -v` failed: {error}")
