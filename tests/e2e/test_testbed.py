"""The test bed itself: the production files plus the overlay come up and carry a request.

If these fail, every other end-to-end result is meaningless, so they check the foundation:
all services healthy under their production healthchecks, the proxy reaching Langfuse by
its service name, and one chat request travelling client -> proxy -> Bedrock stand-in.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import yaml

from llmops_kit.compose import ComposeProject
from llmops_kit.errors import KitError
from tests.e2e.stack import StackEnv

UP_TIMEOUT_S = 240


def _diagnostics(project: ComposeProject) -> str:
    """States and each service's last log lines, for a failure message."""
    states = "\n".join(f"  {c.service}: {c.summary}" for c in project.ps())
    logs = "\n".join(project.logs(tail=15))
    return f"services:\n{states}\nlast log lines:\n{logs}"


@pytest.fixture(scope="module")
def running_stack(stack_env: StackEnv) -> Iterator[StackEnv]:
    project = stack_env.project
    try:
        project.run(
            ["up", "--detach", "--wait", "--wait-timeout", str(UP_TIMEOUT_S)],
            timeout=UP_TIMEOUT_S + 60,
        )
    except KitError as error:
        pytest.fail(f"the test bed did not come up: {error}\n{_diagnostics(project)}")
    yield stack_env


def test_every_service_is_healthy_under_its_production_healthcheck(
    running_stack: StackEnv,
) -> None:
    project = running_stack.project
    expected = set(project.services())
    states = {c.service: (c.state, c.health) for c in project.ps()}

    assert set(states) == expected
    assert {s: st for s, st in states.items() if st != ("running", "healthy")} == {}


def test_proxy_reaches_langfuse_web_by_its_service_name(running_stack: StackEnv) -> None:
    probe = (
        "import urllib.request; "
        "print(urllib.request.urlopen('http://langfuse-web:3000/api/public/health').status)"
    )

    status = running_stack.project.exec("litellm", ["python3", "-c", probe])

    assert status.strip() == "200"


def test_chat_request_travels_through_the_proxy_to_the_bedrock_stand_in(
    running_stack: StackEnv,
) -> None:
    config = yaml.safe_load(running_stack.config_file.read_text())
    model = config["model_list"][0]["model_name"]
    master_key = running_stack.settings["LITELLM_MASTER_KEY"]
    httpx.post(f"{running_stack.bedrock_url}/_fake/reset", timeout=10).raise_for_status()

    answer = httpx.post(
        f"{running_stack.proxy_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {master_key}"},
        json={"model": model, "messages": [{"role": "user", "content": "Say hello."}]},
        timeout=60,
    )
    calls = httpx.get(f"{running_stack.bedrock_url}/_fake/calls", timeout=10).json()

    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"]
    assert [(call["operation"], call["status"]) for call in calls] == [("Converse", 200)]
