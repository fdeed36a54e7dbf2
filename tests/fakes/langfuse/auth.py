"""The one provisioned project and Langfuse's API-key check, with Langfuse's own messages.

Keys and ids come from the LANGFUSE_INIT_* variables the real langfuse-web image reads for its
headless initialisation. As in Langfuse, Basic auth resolves the key by its secret alone: the
submitted public key is only compared in a log line, so a right secret with a wrong public key
is accepted. Bearer auth (public key only) grants the narrow "scores" access that the project
routes refuse with 403.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

CHECK_HOST_HINT = ". Confirm that you've configured the correct host."
PROJECT_ACCESS = "project"
SCORES_ACCESS = "scores"


class MissingKeysError(Exception):
    """The stand-in cannot start without the project keys."""


@dataclass(frozen=True)
class Project:
    public_key: str
    secret_key: str
    project_id: str
    project_name: str
    org_id: str
    org_name: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Project:
        public_key = environ.get("LANGFUSE_INIT_PROJECT_PUBLIC_KEY", "")
        secret_key = environ.get("LANGFUSE_INIT_PROJECT_SECRET_KEY", "")
        if not public_key or not secret_key:
            raise MissingKeysError(
                "set LANGFUSE_INIT_PROJECT_PUBLIC_KEY and LANGFUSE_INIT_PROJECT_SECRET_KEY "
                "(pk-lf-... and sk-lf-...), as for the langfuse-web image"
            )
        return cls(
            public_key=public_key,
            secret_key=secret_key,
            project_id=environ.get("LANGFUSE_INIT_PROJECT_ID") or "fake-project",
            project_name=environ.get("LANGFUSE_INIT_PROJECT_NAME") or "Provisioned Project",
            org_id=environ.get("LANGFUSE_INIT_ORG_ID") or "fake-org",
            org_name=environ.get("LANGFUSE_INIT_ORG_NAME") or "Provisioned Org",
        )


@dataclass(frozen=True)
class AuthResult:
    """Either an access level, or the message Langfuse answers with 401."""

    access: str | None = None
    error: str | None = None


def check_authorization(header: str | None, project: Project) -> AuthResult:
    """Langfuse's ApiAuthService.verifyAuthHeaderAndReturnScope for one project key."""
    if not header:
        return AuthResult(error="No authorization header")
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header.split(" ")[1], validate=True).decode("latin-1")
        except (binascii.Error, IndexError):
            return AuthResult(error="Invalid authorization header" + CHECK_HOST_HINT)
        username, _, rest = decoded.partition(":")
        password = rest.split(":")[0]
        if not username or not password:
            return AuthResult(error="Invalid authorization header" + CHECK_HOST_HINT)
        if not hmac.compare_digest(password.encode(), project.secret_key.encode()):
            return AuthResult(error="Invalid credentials" + CHECK_HOST_HINT)
        return AuthResult(access=PROJECT_ACCESS)
    if header.startswith("Bearer "):
        submitted = header.removeprefix("Bearer ").encode()
        if not hmac.compare_digest(submitted, project.public_key.encode()):
            return AuthResult(error="Invalid public key" + CHECK_HOST_HINT)
        return AuthResult(access=SCORES_ACCESS)
    return AuthResult(error="Invalid authorization header")
