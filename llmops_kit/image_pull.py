"""A failed image pull in one line: which image, the registry tried, and the two ways out.

Compose reports a pull that cannot reach its registry as a progress line of the service
(`litellm Error Get "https://ghcr.io/v2/": dial tcp: lookup ghcr.io ...: no such host`) and
the daemon's error; an image that must not be pulled (`--pull never`) as `No such image: X`.
Neither names both the image and what to do, and the Docker daemon, not the kit's shell,
is what needs the proxy setting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from .compose import ComposeProject
from .errors import ComposeError, DockerError

DOCKER_HUB = "registry-1.docker.io"
LOAD_COMMAND = "python manage_langfuse.py bundle load FILE"

# `<service> Error <reason>`: compose's plain progress line for a failed pull.
_SERVICE_ERROR = re.compile(
    r"^\s*(?:✘\s*)?(?P<service>[A-Za-z0-9][\w.-]*)\s+Error\s+(?P<reason>.+)$"
)
_DAEMON_ERROR = re.compile(r"^Error response from daemon:\s*(?P<reason>.+)$")
_REGISTRY_URL = re.compile(r'(?:Get|Head) "https?://(?P<host>[^/"]+)/v2/[^"]*":\s*')
_NO_SUCH_IMAGE = re.compile(r"No such image:\s*(?P<image>\S+)")
# Words of the daemon's pull errors, for a failure compose reports without a service line.
_PULL_WORDS = ("pull access denied", "manifest unknown", "toomanyrequests", "/v2/")


class ImagePullError(DockerError):
    """An image could not be pulled; the message is the whole story, in one line."""


@dataclass(frozen=True)
class PullFailure:
    """What a pull failure says once the noise is gone."""

    image: str
    service: str | None
    registry: str
    reason: str

    def message(self) -> str:
        where = f" (service {self.service})" if self.service else ""
        return (
            f"cannot pull {self.image}{where} from {self.registry}: {self.reason}; either let "
            f"the Docker daemon reach {self.registry} (HTTPS_PROXY in the daemon's "
            f"environment or its daemon.json `proxies`, then run again), or load an offline "
            f"bundle made on a connected machine: {LOAD_COMMAND}"
        )


def registry_of(image: str) -> str:
    """The registry host Docker contacts for an image reference (Docker Hub when unnamed)."""
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return DOCKER_HUB


def _short_reason(reason: str) -> str:
    """The daemon's reason without the URL it already named, on one line."""
    text = _REGISTRY_URL.sub("", reason.strip().splitlines()[0])
    return text.rstrip(".") or "pull failed"


def parse(stderr: str, images: Mapping[str, str]) -> PullFailure | None:
    """The pull failure `stderr` of a compose command reports; None when it is another error.

    `images` maps each service to its resolved image (the compose model), so a failure
    compose names by service is reported by image too.
    """
    lines = stderr.splitlines()
    for line in lines:
        found = _SERVICE_ERROR.match(line)
        if found and found["service"] in images:
            return _failure(images[found["service"]], found["service"], found["reason"])
    for line in lines:
        missing = _NO_SUCH_IMAGE.search(line)
        if missing:
            image = missing["image"]
            service = next((s for s, i in sorted(images.items()) if i == image), None)
            return PullFailure(image, service, registry_of(image), "not on this machine")
    for line in lines:
        daemon = _DAEMON_ERROR.match(line.strip())
        if daemon and any(word in daemon["reason"] for word in _PULL_WORDS):
            return _failure_by_registry(daemon["reason"], images)
    return None


def _failure(image: str, service: str | None, reason: str) -> PullFailure:
    url = _REGISTRY_URL.search(reason)
    registry = url["host"] if url else registry_of(image)
    return PullFailure(image, service, registry, _short_reason(reason))


def _failure_by_registry(reason: str, images: Mapping[str, str]) -> PullFailure | None:
    url = _REGISTRY_URL.search(reason)
    for service, image in sorted(images.items()):
        if (url and registry_of(image) == url["host"]) or image in reason:
            return _failure(image, service, reason)
    return None


@contextmanager
def explained(project: ComposeProject) -> Iterator[None]:
    """Raise a failed pull inside the block as its one-line ImagePullError."""
    try:
        yield
    except ComposeError as error:
        failure = parse(error.stderr, project.images())
        if failure is None:
            raise
        raise ImagePullError(failure.message()) from error
