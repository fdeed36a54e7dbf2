"""An isolated test stack: its own .env, config copy, ports and compose project name.

The .env is what `init` writes, with a few values set first: free loopback ports, a unique
COMPOSE_PROJECT_NAME, a temporary copy of litellm_config.yml (tests may edit it), an empty
AWS directory (the real ~/.aws never reaches a test container), keys the Bedrock stand-in
accepts, the test bed overlay in LLMOPS_EXTRA_COMPOSE_FILES and the LLMOPS_TESTBED_*
variables overlay.yml needs. Every kit command given this .env acts on this stack only.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import string
from dataclasses import dataclass
from pathlib import Path

from llmops_kit import settings
from llmops_kit.compose import ComposeProject
from tests.e2e.testbed.image import HostPaths

OVERLAY = Path(__file__).resolve().parent / "testbed" / "overlay.yml"
BEDROCK_CONTAINER_URL = "http://bedrock:8080"


def free_port() -> int:
    """A loopback port free right now (others run tests on this machine too)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _access_key_id() -> str:
    return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16))


@dataclass(frozen=True)
class StackEnv:
    """One isolated stack: its .env, its config copy, and where its ports are."""

    env_file: Path
    config_file: Path

    @property
    def settings(self) -> settings.Settings:
        return settings.load(self.env_file)

    @property
    def project(self) -> ComposeProject:
        """The kit's compose wrapper for this stack (production files plus the overlay)."""
        return ComposeProject(self.settings)

    def port(self, name: str) -> int:
        return self.settings.int(name)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.port('LANGFUSE_WEB_PORT')}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port('LITELLM_PORT')}"

    @property
    def bedrock_url(self) -> str:
        """The Bedrock stand-in's control API (/_fake/...), published on loopback."""
        return f"http://127.0.0.1:{self.port('LLMOPS_TESTBED_BEDROCK_PORT')}"


def write_stack_env(directory: Path, image: str, paths: HostPaths) -> StackEnv:
    """Write the stack's files into `directory`: our values first, `init` fills the rest."""
    config_file = directory / "litellm_config.yml"
    shutil.copyfile(paths.repo / "litellm_config.yml", config_file)
    aws_dir = directory / "aws"
    aws_dir.mkdir()
    values = {
        "COMPOSE_PROJECT_NAME": f"llmops-e2e-{secrets.token_hex(4)}",
        "LANGFUSE_WEB_PORT": free_port(),
        "LITELLM_PORT": free_port(),
        "MINIO_S3_PORT": free_port(),
        "LLMOPS_LITELLM_CONFIG": config_file,
        "LLMOPS_AWS_DIR": aws_dir,
        "LLMOPS_EXTRA_COMPOSE_FILES": OVERLAY,
        "AWS_ACCESS_KEY_ID": _access_key_id(),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
        "AWS_BEDROCK_RUNTIME_ENDPOINT": BEDROCK_CONTAINER_URL,
        "LLMOPS_TESTBED_IMAGE": image,
        "LLMOPS_TESTBED_REPO": paths.repo,
        "LLMOPS_TESTBED_VENV": paths.venv,
        "LLMOPS_TESTBED_PYTHON": paths.python,
        "LLMOPS_TESTBED_BEDROCK_PORT": free_port(),
    }
    env_file = directory / ".env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    settings.init_env(env_file)
    return StackEnv(env_file=env_file, config_file=config_file)
