"""A pull that fails says, in one line, which image, which registry and the two ways out.

The stderr texts are what compose 2.40.3 and Docker Engine 20.10.24 printed here for pulls
against registries this machine cannot reach (no DNS, a closed port, an HTTP server that is
not a registry) and for `up --pull never` without the image.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmops_kit import image_pull
from tests.unit.cli_harness import SERVICES, Kit
from tests.unit.test_cli_start import stack_kit

MINIO = (
    "cgr.dev/chainguard/minio"
    "@sha256:bd014394a80898e68c149f2311fdf8d5a2c2f3bb2c33b9327ae6d02b4b065ae1"
)
IMAGES = {
    "litellm": "ghcr.io/berriai/litellm:v1.106.2",
    "langfuse-web": "docker.langfuse.com/langfuse/langfuse:4.59.0",
    "postgres": "postgres:17.11",
    "minio": MINIO,
}
NO_DNS_UP = """\
 minio Pulling \n litellm Pulling \n postgres Pulling \n\
 litellm Error Get "https://ghcr.io/v2/": dial tcp: lookup ghcr.io on 10.255.255.53:53: \
no such host
 minio  Interrupted
 postgres  Interrupted
Error response from daemon: Get "https://ghcr.io/v2/": dial tcp: lookup ghcr.io on \
10.255.255.53:53: no such host
"""
CLOSED_PORT_PULL = (
    'Error response from daemon: Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: '
    "connect: connection refused\n"
)
NOT_A_REGISTRY_UP = """\
 langfuse-web Pulling \n\
 langfuse-web Error error parsing HTTP 404 response body: invalid character '<' looking for \
beginning of value: "<!DOCTYPE HTML>\\n<html lang=\\"en\\">\\n"
Error response from daemon: error parsing HTTP 404 response body: invalid character '<' \
looking for beginning of value: "<!DOCTYPE HTML>\\n<html lang=\\"en\\">\\n"
"""
PULL_NEVER_UP = """\
 Container kit-minio-1  Creating
 Container kit-minio-1  Error response from daemon: No such image: \
cgr.dev/chainguard/minio@sha256:bd014394a80898e68c149f2311fdf8d5a2c2f3bb2c33b9327ae6d02b4b065ae1
Error response from daemon: No such image: \
cgr.dev/chainguard/minio@sha256:bd014394a80898e68c149f2311fdf8d5a2c2f3bb2c33b9327ae6d02b4b065ae1
"""
PORT_TAKEN_UP = (
    "Error response from daemon: driver failed programming external connectivity on endpoint "
    "kit-litellm-1: Bind for 127.0.0.1:4000 failed: port is already allocated\n"
)


def test_an_unresolvable_registry_names_image_service_registry_and_reason() -> None:
    failure = image_pull.parse(NO_DNS_UP, IMAGES)
    assert failure == image_pull.PullFailure(
        image="ghcr.io/berriai/litellm:v1.106.2",
        service="litellm",
        registry="ghcr.io",
        reason="dial tcp: lookup ghcr.io on 10.255.255.53:53: no such host",
    )


def test_the_message_is_one_line_with_both_ways_out() -> None:
    message = image_pull.parse(NO_DNS_UP, IMAGES).message()
    assert "\n" not in message
    assert message.startswith(
        "cannot pull ghcr.io/berriai/litellm:v1.106.2 (service litellm) from ghcr.io: "
        "dial tcp: lookup ghcr.io on 10.255.255.53:53: no such host; "
    )
    assert "HTTPS_PROXY in the daemon's environment" in message
    assert message.endswith("python manage_langfuse.py bundle load FILE")


def test_a_daemon_error_without_a_service_line_is_matched_by_registry() -> None:
    images = {"postgres": "postgres:17.11", "proxy": "127.0.0.1:1/berriai/litellm:v1.106.2"}
    failure = image_pull.parse(CLOSED_PORT_PULL, images)
    assert failure is not None
    assert (failure.image, failure.service, failure.registry) == (
        "127.0.0.1:1/berriai/litellm:v1.106.2",
        "proxy",
        "127.0.0.1:1",
    )
    assert failure.reason == "dial tcp 127.0.0.1:1: connect: connection refused"


def test_a_server_that_is_not_a_registry_is_reported_against_the_image_registry() -> None:
    failure = image_pull.parse(NOT_A_REGISTRY_UP, IMAGES)
    assert failure is not None
    assert failure.image == "docker.langfuse.com/langfuse/langfuse:4.59.0"
    assert failure.registry == "docker.langfuse.com"
    assert failure.reason.startswith("error parsing HTTP 404 response body")


def test_a_missing_image_without_pulling_names_it_and_its_registry() -> None:
    failure = image_pull.parse(PULL_NEVER_UP, IMAGES)
    assert failure is not None
    assert (failure.service, failure.registry, failure.reason) == (
        "minio",
        "cgr.dev",
        "not on this machine",
    )


def test_other_compose_failures_are_not_pull_failures() -> None:
    assert image_pull.parse(PORT_TAKEN_UP, IMAGES) is None
    assert image_pull.parse("", IMAGES) is None


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("postgres:17.11", "registry-1.docker.io"),
        ("clickhouse/clickhouse-server:25.12.11.4", "registry-1.docker.io"),
        ("ghcr.io/berriai/litellm:v1.106.2", "ghcr.io"),
        ("localhost/x:1", "localhost"),
        ("127.0.0.1:5000/x:1", "127.0.0.1:5000"),
    ],
)
def test_registry_of_follows_docker_reference_rules(image: str, registry: str) -> None:
    assert image_pull.registry_of(image) == registry


# -- `start` on a machine that cannot reach the registry


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    kit = stack_kit(tmp_path, monkeypatch)
    model = {
        "name": "kit",
        "services": {s: {"image": IMAGES.get(s, "redis:7.4.11")} for s in SERVICES},
    }
    kit.docker.reply("compose", "config", "--format", "json", stdout=json.dumps(model))
    return kit


def test_start_without_the_registry_ends_with_the_one_line_error(kit: Kit) -> None:
    secret = kit.settings()["LITELLM_MASTER_KEY"]
    kit.docker.reply("compose", "up", stdout=NO_DNS_UP, exit=1)
    outcome = kit.run("start")
    assert outcome.code == 1
    last = outcome.stderr.splitlines()[-1]
    assert last == "Error: " + image_pull.parse(NO_DNS_UP, IMAGES).message()
    assert secret not in outcome.stderr
