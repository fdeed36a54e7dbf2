"""A wrong AWS secret: the client learns it is the credentials, and no route is tried twice.

Its own proxy: the stand-in verifies SigV4 against its key pair, and this proxy signs with
the right access key id but a wrong secret, as after a rotated or mistyped secret.
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.integration.conftest import ProxyStack, open_stack
from tests.integration.proxy_harness import PROFILE_PREFIX

pytestmark = pytest.mark.integration

WRONG_SECRET = "wrong" + "0" * 35


@pytest.fixture(scope="module")
def wrong_secret_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyStack]:
    work_dir = tmp_path_factory.mktemp("wrong-secret")
    with open_stack(work_dir, env_overrides={"AWS_SECRET_ACCESS_KEY": WRONG_SECRET}) as opened:
        yield opened


@pytest.fixture
def stack(wrong_secret_stack: ProxyStack) -> ProxyStack:
    wrong_secret_stack.bedrock.reset()
    return wrong_secret_stack


def _say_hello(stack: ProxyStack) -> None:
    stack.openai().chat.completions.create(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "Say hello."}]
    )


def test_wrong_aws_secret_is_an_error_that_names_the_credentials(stack: ProxyStack) -> None:
    with pytest.raises(openai.PermissionDeniedError) as refused:
        _say_hello(stack)

    assert "Check your AWS Secret Access Key" in refused.value.message


def test_wrong_aws_secret_is_neither_retried_nor_sent_to_a_fallback(stack: ProxyStack) -> None:
    with pytest.raises(openai.APIStatusError):
        _say_hello(stack)

    assert [(call["model_id"], call["status"]) for call in stack.bedrock.calls()] == [
        (f"{PROFILE_PREFIX}.anthropic.claude-sonnet-4-6", 403)
    ]
