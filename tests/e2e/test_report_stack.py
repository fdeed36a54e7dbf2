"""`report` against the running stack: a request through the proxy shows up in the report.

The proxy's callback exports the trace to langfuse-web by its service name; `report` runs on
the host with the stack's .env, where LANGFUSE_HOST names that in-stack host, so it must reach
Langfuse on the published port instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml

from llmops_kit import settings
from llmops_kit.errors import KitError
from tests.e2e.stack import StackEnv

UP_TIMEOUT_S = 240
TRACE_TIMEOUT_S = 90
ENTRY = str(settings.REPO_ROOT / "manage_langfuse.py")


@pytest.fixture(scope="module")
def running_stack(stack_env: StackEnv) -> Iterator[StackEnv]:
    try:
        stack_env.project.run(
            ["up", "--detach", "--wait", "--wait-timeout", str(UP_TIMEOUT_S)],
            timeout=UP_TIMEOUT_S + 60,
        )
    except KitError as error:
        pytest.fail(f"the test bed did not come up: {error}")
    yield stack_env


def report(stack: StackEnv, *args: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if k not in settings.BY_NAME}
    return subprocess.run(
        [sys.executable, ENTRY, "report", *args, "--env-file", str(stack.env_file)],
        capture_output=True,
        text=True,
        env={**inherited, "NO_COLOR": "1", "COLUMNS": "120"},
        timeout=120,
        check=False,
    )


def test_a_request_through_the_proxy_is_counted_in_the_report(running_stack: StackEnv) -> None:
    config = yaml.safe_load(running_stack.config_file.read_text())
    model = config["model_list"][0]["model_name"]
    answer = httpx.post(
        f"{running_stack.proxy_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {running_stack.settings['LITELLM_MASTER_KEY']}"},
        json={
            "model": model,
            "messages": [{"role": "user", "content": "Say hello."}],
            "user": "report-e2e",
        },
        timeout=60,
    )
    assert answer.status_code == 200, answer.text

    deadline = time.monotonic() + TRACE_TIMEOUT_S
    users: dict[str, dict] = {}
    while "report-e2e" not in users and time.monotonic() < deadline:
        done = report(running_stack, "--since", "1h", "--format", "json", "--by", "user")
        assert done.returncode == 0, done.stderr
        users = {group["key"]: group for group in json.loads(done.stdout)["groups"]["user"]}
        time.sleep(2)

    assert "report-e2e" in users, "the request never reached the report"
    assert users["report-e2e"]["requests"] == 1
    assert users["report-e2e"]["output_tokens"] > 0
    assert users["report-e2e"]["cost_usd"] > 0
