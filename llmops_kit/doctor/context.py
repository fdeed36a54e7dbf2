"""What every check may read: options, resolved settings, and probes shared between checks.

A probe several checks need (the container list, one STS call, Langfuse's health) runs
once and its result, or the error it raised, is remembered for the rest of the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import httpx

from .. import settings as settings_module
from ..compose import ComposeProject, proxy_config_file, secret_values
from ..errors import ConfigError, KitError
from ..settings import mask

T = TypeVar("T")

HTTP_TIMEOUT_SECONDS = 10.0
DEFAULT_ENV_PATH = settings_module.REPO_ROOT / settings_module.ENV_FILE_NAME
# The LiteLLM image ships python3 (its own healthcheck uses it); probes use the stdlib only.
PYTHON = "python3"
LANGFUSE_WEB_SERVICE = "langfuse-web"
LANGFUSE_WORKER_SERVICE = "langfuse-worker"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


@dataclass(frozen=True)
class DoctorOptions:
    """The command line: which files, which mode, whether to spend money on Bedrock."""

    env_path: Path
    config_path: Path | None = None  # None: the one the proxy service mounts
    native: bool = False
    bedrock_calls: bool = True


class DoctorContext:
    """Read-only view of the setup for the checks; close() when the run is over."""

    def __init__(self, options: DoctorOptions, environ: Mapping[str, str] | None = None) -> None:
        self.options = options
        self.environ = os.environ if environ is None else environ
        self.debug = bool(self.environ.get("LLMOPS_DEBUG"))
        self.env_file_error: ConfigError | None = None
        try:
            self.settings = settings_module.load(options.env_path, self.environ, validate=False)
        except ConfigError as error:
            # A malformed .env is itself a finding; the other checks run on defaults.
            self.env_file_error = error
            self.settings = settings_module.load(Path(os.devnull), self.environ, validate=False)
        self._secrets = secret_values(self.settings)
        self._memo: dict[str, Any] = {}
        self.http = httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    @property
    def native(self) -> bool:
        return self.options.native

    def redact(self, text: str) -> str:
        """Text safe to print: every secret setting's value replaced by its mask."""
        for secret in self._secrets:
            text = text.replace(secret, mask(secret))
        return text

    def remember(self, key: str, probe: Callable[[], T]) -> T:
        """Run `probe` once per doctor run; a KitError it raises is re-raised each time."""
        if key not in self._memo:
            try:
                self._memo[key] = probe()
            except KitError as error:
                self._memo[key] = error
        value = self._memo[key]
        if isinstance(value, KitError):
            raise value
        return value

    def kit_command(self, *args: str) -> str:
        """A `manage_langfuse.py` command line for a fix, naming a non-default .env."""
        words = ["python manage_langfuse.py", *args]
        if self.options.env_path.resolve() != DEFAULT_ENV_PATH:
            words.append(f"--env-file {self.options.env_path}")
        return " ".join(words)

    # ---- addresses as seen from this machine

    def _host_address(self) -> str:
        bind = self.settings.get("BIND_ADDRESS") or "127.0.0.1"
        return "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind

    @cached_property
    def proxy_url(self) -> str:
        return f"http://{self._host_address()}:{self.settings.get('LITELLM_PORT', '4000')}"

    @cached_property
    def langfuse_url(self) -> str:
        """Langfuse web as doctor reaches it: the published port, or LANGFUSE_HOST natively."""
        if self.native:
            return self.settings.get("LANGFUSE_HOST", "").rstrip("/")
        port = self.settings.get("LANGFUSE_WEB_PORT", "3000")
        return f"http://{self._host_address()}:{port}"

    @cached_property
    def config_path(self) -> Path:
        """The LiteLLM config to check: as given, or LLMOPS_LITELLM_CONFIG's (the stack's)."""
        return self.options.config_path or proxy_config_file(self.settings)

    @cached_property
    def project(self) -> ComposeProject:
        return ComposeProject(self.settings)
