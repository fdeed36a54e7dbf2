"""Who is calling: the master key, or a per-developer key from the keys file; else a 401.

The proxy runs without a database, so LiteLLM's virtual keys are unavailable and a request
without a key would answer 500. `general_settings.custom_auth` hands every authenticated
route to `user_api_key_auth` below instead. Cline cannot send custom headers, so the key is
the only way to know which developer sent a request: the user, team and alias of the key
reach every callback (standard_logging_object metadata `user_api_key_user_id`,
`user_api_key_team_id`, `user_api_key_alias`).

LiteLLM has already taken the key from `x-litellm-api-key`, `Authorization: Bearer`, `api-key`
or `x-api-key` (Anthropic clients). The keys file (LLMOPS_KEYS_FILE) is a YAML or JSON list:

    - key: sk-...            required, "sk-" and at least 16 more characters, unique
      user: alice@example.com  required: the user on every trace
      team: platform         optional
      alias: alice-laptop    optional: which of the user's keys (default: the user)

It is re-read when it changes, so keys can be added or revoked without a restart. A key is
never logged or echoed in full. LiteLLM loads this module by file path without its package:
standard library, PyYAML and litellm only.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import yaml
from litellm.constants import LITELLM_PROXY_ADMIN_NAME, LITELLM_PROXY_MASTER_KEY_ALIAS
from litellm.proxy._types import LitellmUserRoles, ProxyException, UserAPIKeyAuth

log = logging.getLogger("llmops.auth")

KEYS_FILE_VARIABLE = "LLMOPS_KEYS_FILE"
MASTER_KEY_VARIABLE = "LITELLM_MASTER_KEY"
MASTER_KEY_ALIAS = "master-key"
KEY_PREFIX = "sk-"
MIN_KEY_SECRET_CHARS = 16
EXAMPLE_KEY_MARKER = "replace-me"
_FIELDS = frozenset({"key", "user", "team", "alias"})


class KeysFileError(ValueError):
    """The keys file cannot be used; the message names the entry and never shows a key."""


class KeyEntry(NamedTuple):
    """One developer key, as the callbacks will see it."""

    user: str
    team: str | None
    alias: str


def mask_key(key: str) -> str:
    """Enough of a key to recognise it in a message: its prefix and last four characters."""
    if key.startswith(KEY_PREFIX) and len(key) >= len(KEY_PREFIX) + MIN_KEY_SECRET_CHARS:
        return f"{KEY_PREFIX}…{key[-4:]}"
    return "***"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _optional_text(item: Mapping[str, Any], field: str, where: str) -> str | None:
    value = item.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise KeysFileError(f"{where}: '{field}' must be a non-empty string")
    return value.strip()


def _entry(item: object, where: str) -> tuple[str, KeyEntry]:
    if not isinstance(item, Mapping):
        raise KeysFileError(f"{where}: expected a mapping with 'key' and 'user'")
    unknown = sorted(set(map(str, item)) - _FIELDS)
    if unknown:
        raise KeysFileError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {_fields()}")
    key = item.get("key")
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
        raise KeysFileError(f"{where}: 'key' must be a string starting with '{KEY_PREFIX}'")
    if len(key) < len(KEY_PREFIX) + MIN_KEY_SECRET_CHARS or key != key.strip():
        raise KeysFileError(
            f"{where}: 'key' is too short or has spaces; use {KEY_PREFIX} and at least "
            f"{MIN_KEY_SECRET_CHARS} random characters"
        )
    if EXAMPLE_KEY_MARKER in key:
        raise KeysFileError(f"{where}: still the example key; generate a random one")
    user = _optional_text(item, "user", where)
    if user is None:
        raise KeysFileError(f"{where}: 'user' is required")
    team = _optional_text(item, "team", where)
    alias = _optional_text(item, "alias", where) or user
    return _digest(key), KeyEntry(user=user, team=team, alias=alias)


def _fields() -> str:
    return ", ".join(sorted(_FIELDS))


def parse_keys(
    text: str, *, source: str = "keys file", master_key: str = ""
) -> dict[str, KeyEntry]:
    """Parse keys file text into {sha256 of the key: entry}; raise KeysFileError if unusable."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise KeysFileError(f"{source} is not valid YAML or JSON{line}") from None
    if document is None:
        return {}
    if not isinstance(document, list):
        raise KeysFileError(f"{source}: expected a list of entries with 'key' and 'user'")
    master_digest = _digest(master_key) if master_key else None
    entries: dict[str, KeyEntry] = {}
    for number, item in enumerate(document, start=1):
        where = f"{source}, entry {number}"
        digest, entry = _entry(item, where)
        if digest == master_digest:
            raise KeysFileError(f"{where}: reuses the master key; give each developer a new key")
        if digest in entries:
            raise KeysFileError(f"{where}: the same key as the entry for {entries[digest].user}")
        entries[digest] = entry
    return entries


class KeysFile:
    """The keys file, re-read when its modification time or size changes.

    A file that no longer parses keeps the last good keys in force, and says so in the log
    once per change, so a typo while editing does not lock every developer out. A file that
    disappears revokes every developer key.
    """

    def __init__(self, path: Path | None, *, master_key: str = "") -> None:
        self.path = path
        self._master_key = master_key
        self._stamp: tuple[int, int] | None = None
        self._entries: dict[str, KeyEntry] = {}

    def lookup(self, key: str) -> KeyEntry | None:
        self._refresh()
        return self._entries.get(_digest(key))

    def _refresh(self) -> None:
        if self.path is None:
            return
        try:
            status = self.path.stat()
        except OSError as error:
            stamp = (-1, -1)
            if stamp != self._stamp:
                log.error("keys file %s cannot be read (%s); no developer keys", self.path, error)
                self._entries = {}
            self._stamp = stamp
            return
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            text = self.path.read_text(encoding="utf-8")
            self._entries = parse_keys(text, source=str(self.path), master_key=self._master_key)
        except (OSError, KeysFileError) as error:
            log.error("%s; keeping the %d keys loaded before", error, len(self._entries))
            return
        log.info("keys file %s: %d developer keys", self.path, len(self._entries))


def _unauthorized(message: str) -> ProxyException:
    return ProxyException(message=message, type="auth_error", param="api_key", code=401)


class Authenticator:
    """Decides who a key belongs to."""

    def __init__(self, master_key: str, keys_file: KeysFile) -> None:
        self._master_key = master_key
        self._keys_file = keys_file

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Authenticator:
        master_key = environ.get(MASTER_KEY_VARIABLE, "")
        path = environ.get(KEYS_FILE_VARIABLE, "")
        return cls(master_key, KeysFile(Path(path) if path else None, master_key=master_key))

    def authenticate(self, api_key: str | None) -> UserAPIKeyAuth:
        """The caller's identity, or ProxyException(401) with a message saying what to send."""
        if not api_key:
            raise _unauthorized(
                "No API key. Send the key you were given as 'Authorization: Bearer sk-...' "
                "(OpenAI clients, Cline) or in the x-api-key header (Anthropic clients)."
            )
        if self._master_key and hmac.compare_digest(api_key.encode(), self._master_key.encode()):
            return UserAPIKeyAuth(
                api_key=LITELLM_PROXY_MASTER_KEY_ALIAS,
                user_id=LITELLM_PROXY_ADMIN_NAME,
                key_alias=MASTER_KEY_ALIAS,
                user_role=LitellmUserRoles.PROXY_ADMIN,
            )
        entry = self._keys_file.lookup(api_key)
        if entry is None:
            raise _unauthorized(
                f"Invalid API key {mask_key(api_key)}: neither the proxy's master key nor a "
                "key from its keys file. Ask the proxy's admin for a key."
            )
        return UserAPIKeyAuth(
            api_key=_digest(api_key),
            user_id=entry.user,
            team_id=entry.team,
            key_alias=entry.alias,
            user_role=LitellmUserRoles.INTERNAL_USER,
        )


def _sibling(name: str) -> ModuleType:
    """A module beside this file: LiteLLM loads this one by path, without its package."""
    spec = importlib.util.spec_from_file_location(
        f"_llmops_auth_{name}", Path(__file__).resolve().with_name(f"{name}.py")
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {name}.py beside {__file__}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_authenticator = Authenticator.from_environ(os.environ)
_route_policy = _sibling("route_policy")


async def user_api_key_auth(request: Any, api_key: str) -> UserAPIKeyAuth:
    """LiteLLM's custom_auth hook: see the module docstring. Developer keys reach only the
    routes callbacks/route_policy.py allows (403 elsewhere); the master key reaches all."""
    caller = _authenticator.authenticate(api_key)
    if caller.user_role != LitellmUserRoles.PROXY_ADMIN:
        _route_policy.check_developer_route(request)
    return caller
