"""Who is calling: the master key, or a per-developer key from the keys file; else a 401.

The proxy runs without a database, so LiteLLM's virtual keys are unavailable and a request
without a key would answer 500. `general_settings.custom_auth` hands every authenticated
route to `user_api_key_auth` below instead. Cline cannot send custom headers, so the key is
the only way to know which developer sent a request: the user, team and alias of the key
reach every callback (standard_logging_object metadata `user_api_key_user_id`,
`user_api_key_team_id`, `user_api_key_alias`).

LiteLLM has already taken the key from `x-litellm-api-key`, `Authorization: Bearer`, `api-key`
or `x-api-key` (Anthropic clients). The keys file (LLMOPS_KEYS_FILE, format in keys_file.py)
is re-read when it changes, so keys can be added or revoked without a restart. Keys with
limits are then admitted by limits.py (expiry, models, rpm/tpm, budget) before routing, and
`budget_settlement` (a logger in litellm_config.yml's callbacks) settles what they cost.
A key is never logged or echoed in full.

LiteLLM loads this module by file path without its package; it imports its siblings through
the package bootstrap of langfuse_v4.py.
"""

from __future__ import annotations

import hmac
import importlib
import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from litellm.constants import LITELLM_PROXY_ADMIN_NAME, LITELLM_PROXY_MASTER_KEY_ALIAS
from litellm.proxy._types import LitellmUserRoles, ProxyException, UserAPIKeyAuth

KEYS_FILE_VARIABLE = "LLMOPS_KEYS_FILE"
MASTER_KEY_VARIABLE = "LITELLM_MASTER_KEY"
MASTER_KEY_ALIAS = "master-key"


def _sibling(name: str) -> ModuleType:
    """callbacks/<name>.py imported as part of the package langfuse_v4.py bootstraps."""
    path = Path(__file__).resolve().with_name("langfuse_v4.py")
    spec = importlib.util.spec_from_file_location("_llmops_bootstrap", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    return importlib.import_module(f"{bootstrap.load_package().__name__}.{name}")


keys_file = _sibling("keys_file")
budget_runtime = _sibling("budget_runtime")
limits = _sibling("limits")
KeysFile = keys_file.KeysFile
KeysFileError = keys_file.KeysFileError
parse_keys = keys_file.parse_keys
mask_key = keys_file.mask_key


def _unauthorized(message: str) -> ProxyException:
    return ProxyException(message=message, type="auth_error", param="api_key", code=401)


class Authenticator:
    """Decides who a key belongs to."""

    def __init__(self, master_key: str, keys: Any) -> None:
        self._master_key = master_key
        self._keys_file = keys

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Authenticator:
        master_key = environ.get(MASTER_KEY_VARIABLE, "")
        path = environ.get(KEYS_FILE_VARIABLE, "")
        return cls(master_key, KeysFile(Path(path) if path else None, master_key=master_key))

    def authenticate(self, api_key: str | None) -> UserAPIKeyAuth:
        """The caller's identity, or ProxyException(401) with a message saying what to send."""
        return self.identify(api_key)[0]

    def identify(self, api_key: str | None) -> tuple[UserAPIKeyAuth, Any]:
        """The identity and, for a developer key, its keys-file entry (None: the master key)."""
        if not api_key:
            raise _unauthorized(
                "No API key. Send the key you were given as 'Authorization: Bearer sk-...' "
                "(OpenAI clients, Cline) or in the x-api-key header (Anthropic clients)."
            )
        if self._master_key and hmac.compare_digest(api_key.encode(), self._master_key.encode()):
            admin = UserAPIKeyAuth(
                api_key=LITELLM_PROXY_MASTER_KEY_ALIAS,
                user_id=LITELLM_PROXY_ADMIN_NAME,
                key_alias=MASTER_KEY_ALIAS,
                user_role=LitellmUserRoles.PROXY_ADMIN,
            )
            return admin, None
        key_digest = keys_file.digest(api_key)
        entry = self._keys_file.lookup(key_digest)
        if entry is None:
            raise _unauthorized(
                f"Invalid API key {mask_key(api_key)}: neither the proxy's master key nor a "
                "key from its keys file. Ask the proxy's admin for a key."
            )
        identity = UserAPIKeyAuth(
            api_key=key_digest,
            user_id=entry.user,
            team_id=entry.team,
            key_alias=entry.alias,
            user_role=LitellmUserRoles.INTERNAL_USER,
            metadata={"forwards_users": entry.forwards_users},
        )
        return identity, entry


_authenticator = Authenticator.from_environ(os.environ)


async def _request_body(request: Any) -> Mapping[str, Any]:
    """The JSON body LiteLLM has already parsed (and cached on the request)."""
    from litellm.proxy.common_utils.http_parsing_utils import read_request_body

    body = await read_request_body(request=request)
    return body if isinstance(body, Mapping) else {}


async def user_api_key_auth(request: Any, api_key: str) -> UserAPIKeyAuth:
    """LiteLLM's custom_auth hook: see the module docstring."""
    identity, entry = _authenticator.identify(api_key)
    if entry is not None and limits.needs_gate(entry):
        route = request.url.path
        hold = budget_runtime.gate().admit(
            identity.api_key, entry, await _request_body(request), route
        )
        if hold is not None:
            identity.metadata[limits.METADATA_FIELD] = hold
    return identity


def __getattr__(name: str) -> object:
    """`budget_settlement`: the logger that settles reservations (litellm_config.yml)."""
    if name == "budget_settlement":
        return _sibling("settlement").BudgetSettlement(budget_runtime.gate())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
