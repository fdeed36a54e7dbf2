"""Revoking a developer key in the Docker stack: an editor-style save reaches the proxy.

Editors and `mv` save by writing a new file and renaming it over the old one. The proxy
container mounts the keys file's folder (compose/litellm.yml), so it sees the new file; with
the file itself mounted it kept the old inode, and a removed key stayed valid until a restart.
Its own project, with only the proxy and its database started.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from llmops_kit import settings
from llmops_kit.errors import KitError
from llmops_kit.replicas import BALANCER_SERVICE
from tests.e2e.stack import StackEnv, write_stack_env
from tests.e2e.testbed.image import HostPaths

READY_TIMEOUT_S = 240.0
REVOKED_WITHIN_S = 10.0
ALICE = {"key": "sk-e2e-alice-" + "a" * 24, "user": "alice@example.com"}
BOB = {"key": "sk-e2e-bob-" + "b" * 24, "user": "bob@example.com"}


def _save_like_an_editor(path: Path, entries: list[dict[str, str]]) -> None:
    """Write a new file beside the old one and rename it over it (a new inode)."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(yaml.safe_dump(entries), encoding="utf-8")
    temporary.chmod(0o600)
    os.replace(temporary, path)


def _models_status(stack: StackEnv, key: str) -> int:
    try:
        response = httpx.get(
            f"{stack.proxy_url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=5
        )
    except httpx.TransportError:
        return 0
    return response.status_code


@pytest.fixture(scope="module")
def keys_stack(
    testbed_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[StackEnv, Path]]:
    directory = tmp_path_factory.mktemp("keys-stack")
    stack = write_stack_env(directory, testbed_image, HostPaths.current())
    keys_file = directory / "keys" / "keys.yml"
    keys_file.parent.mkdir(mode=0o700)
    _save_like_an_editor(keys_file, [ALICE, BOB])
    values = settings.read_env_file(stack.env_file)
    values["LLMOPS_KEYS_FILE"] = "keys/keys.yml"
    settings.write_env_file(stack.env_file, settings.render_env(values))
    try:
        # The balancer owns the proxy port; it starts the proxy it depends on.
        stack.project.up([BALANCER_SERVICE])
        deadline = time.monotonic() + READY_TIMEOUT_S
        while _models_status(stack, ALICE["key"]) != 200:
            if time.monotonic() > deadline:
                pytest.fail("the proxy did not accept alice's key in time", pytrace=False)
            time.sleep(1)
        yield stack, keys_file
    finally:
        try:
            stack.project.down(volumes=True)
        except KitError as error:
            print(f"e2e teardown: `down -v` failed: {error}")


def test_a_key_removed_by_an_editor_style_save_is_refused_within_seconds(
    keys_stack: tuple[StackEnv, Path],
) -> None:
    stack, keys_file = keys_stack
    assert _models_status(stack, BOB["key"]) == 200

    _save_like_an_editor(keys_file, [ALICE])

    deadline = time.monotonic() + REVOKED_WITHIN_S
    while _models_status(stack, BOB["key"]) != 401 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert _models_status(stack, BOB["key"]) == 401
    assert _models_status(stack, ALICE["key"]) == 200
