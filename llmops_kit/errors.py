"""Every error the kit raises on purpose, in one hierarchy.

    KitError                      anything the user can act on; .fix says how
    ├── UsageError                a bad argument or option (exit code 2)
    ├── ConfigError               a bad or missing setting, .env or litellm_config.yml
    ├── DockerError               the engine or compose v2 is missing or unreachable
    │   └── ComposeError          a `docker compose` command failed (argv, exit code, stderr)
    ├── HealthTimeout             services did not become healthy in time
    ├── LangfuseError             Langfuse unreachable, or it refused the keys
    └── BedrockError              AWS credentials, region or model access

Raising one is the one way a command ends with an error: the CLI prints it as a line with
the message and a line with the fix, and exits with its exit_code (1; a UsageError 2).
Anything else is a bug and shows a traceback only when LLMOPS_DEBUG is set.
"""

from __future__ import annotations

from collections.abc import Sequence


class KitError(Exception):
    """An error with a message for the user and, where one exists, the fix."""

    exit_code = 1

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message}\n  fix: {self.fix}"


class UsageError(KitError):
    """The command line asks for something the command cannot do."""

    exit_code = 2


class ConfigError(KitError):
    """A setting is missing or malformed; the message names the variable or file."""


class DockerError(KitError):
    """The Docker engine or the compose v2 plugin cannot be used."""


class ComposeError(DockerError):
    """A `docker compose` command exited non-zero. Secrets are masked in argv and stderr."""

    def __init__(
        self, argv: Sequence[str], returncode: int, stderr: str, *, fix: str | None = None
    ) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        tail = stderr.strip().splitlines()[-5:]
        detail = "\n  ".join(tail) if tail else "(no output)"
        super().__init__(
            f"`{' '.join(self.argv)}` exited with {returncode}:\n  {detail}",
            fix=fix,
        )


class HealthTimeout(KitError):
    """Services were still not healthy when the wait ran out."""


class LangfuseError(KitError):
    """Langfuse could not be reached, or it rejected the configured keys."""


class BedrockError(KitError):
    """AWS credentials, region or Bedrock model access are not usable."""
